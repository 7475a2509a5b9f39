package mhz19

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/edgepub/edgepub/sensors"
	"github.com/edgepub/edgepub/sensors/internal/uart"
)

// Baud is the sensor's line speed (datasheet, "Communication protocol":
// 9600, 8 data bits, 1 stop bit, no parity).
const Baud = 9600

// Port is a serial port opened by the caller; go.bug.st/serial's Port is one.
type Port = uart.Port

// Commands from the datasheet's command table, checksums included.
var (
	cmdRead   = []byte{0xFF, 0x01, 0x86, 0x00, 0x00, 0x00, 0x00, 0x00, 0x79}
	cmdABCOn  = []byte{0xFF, 0x01, 0x79, 0xA0, 0x00, 0x00, 0x00, 0x00, 0xE6}
	cmdABCOff = []byte{0xFF, 0x01, 0x79, 0x00, 0x00, 0x00, 0x00, 0x00, 0x86}
)

var answerHeader = []byte{0xFF, 0x86}

const answerSize = 9

// WarmUp is the preheat time after power-up (datasheet, main parameters:
// preheat time 3 min); readings before its end are not accurate.
const WarmUp = 3 * time.Minute

// ErrChecksum means an answer's checksum did not match its bytes.
var ErrChecksum = errors.New("checksum mismatch")

// ABC is the automatic baseline correction setting. It has no zero value
// that means anything, so that a caller cannot leave it unset by accident.
type ABC uint8

// The two settings; ABCUnset is refused.
const (
	ABCUnset ABC = iota
	ABCOn
	ABCOff
)

// Opts configures a Dev.
type Opts struct {
	// ABC must be ABCOn or ABCOff.
	ABC ABC
	// Wait bounds one read. Zero means 1 s.
	Wait time.Duration
}

// Dev is an MH-Z19B or MH-Z19C on a serial line. It is safe for concurrent
// use.
type Dev struct {
	conn *uart.Conn
	wait time.Duration
	abc  []byte

	mu      sync.Mutex
	started time.Time // when the port was (re)opened: the sensor powered up then, as far as edgepub knows
}

var _ sensors.Sensor = (*Dev)(nil)

// Open opens the serial port name (such as /dev/serial0) and sets ABC. The
// port is reopened, and ABC set again, after a line failure.
func Open(name string, opts Opts) (*Dev, error) {
	d, err := newDev(opts)
	if err != nil {
		return nil, fmt.Errorf("mhz19 on %s: %w", name, err)
	}
	if d.conn, err = uart.Dial(name, Baud, d.setUp); err != nil {
		return nil, fmt.Errorf("mhz19 on %s: %w", name, err)
	}
	return d, nil
}

// New uses a port the caller opened at 9600 8N1 and sets ABC.
func New(p Port, opts Opts) (*Dev, error) {
	d, err := newDev(opts)
	if err != nil {
		return nil, fmt.Errorf("mhz19 on %v: %w", p, err)
	}
	if d.conn, err = uart.On(p, d.setUp); err != nil {
		return nil, fmt.Errorf("mhz19 on %v: %w", p, err)
	}
	return d, nil
}

func newDev(opts Opts) (*Dev, error) {
	d := &Dev{wait: opts.Wait}
	switch opts.ABC {
	case ABCOn:
		d.abc = cmdABCOn
	case ABCOff:
		d.abc = cmdABCOff
	default:
		return nil, errors.New("abc is not set: choose on (the sensor sees fresh air every day) or off (it does not, e.g. a greenhouse or bedroom)")
	}
	if d.wait <= 0 {
		d.wait = time.Second
	}
	return d, nil
}

// setUp sends the ABC command and starts the preheat; it runs whenever the
// port is opened. The sensor's answer is not awaited (not every firmware
// sends one): the next read drops it with the rest of the stale input.
func (d *Dev) setUp(p Port) error {
	if _, err := p.Write(d.abc); err != nil {
		return fmt.Errorf("set ABC: %w", err)
	}
	d.mu.Lock()
	d.started = time.Now()
	d.mu.Unlock()
	return nil
}

// String names the device and its port.
func (d *Dev) String() string { return "mhz19 on " + d.conn.String() }

// Close closes the serial port.
func (d *Dev) Close() error { return d.conn.Close() }

// Sense reads the CO₂ concentration as "co2_ppm". In the WarmUp after the
// port was opened it returns sensors.ErrWarmingUp once an answer came.
func (d *Dev) Sense(ctx context.Context) (sensors.Values, error) {
	a, err := d.conn.Exchange(ctx, cmdRead, answerHeader, answerSize, d.wait, check)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d, err)
	}
	d.mu.Lock()
	warming := time.Now().Sub(d.started) < WarmUp
	d.mu.Unlock()
	if warming {
		return nil, fmt.Errorf("%s: the sensor preheats for %v after power-up: %w", d, WarmUp, sensors.ErrWarmingUp)
	}
	return sensors.Values{"co2_ppm": float64(a[2])*256 + float64(a[3])}, nil
}

// Checksum is the datasheet's: the sum of bytes 1..7, inverted, plus one.
func Checksum(b []byte) byte {
	var sum byte
	for _, x := range b[1:8] {
		sum += x
	}
	return ^sum + 1
}

func check(a []byte) error {
	if want := Checksum(a); a[8] != want {
		return fmt.Errorf("%w: answer % x ends with %#02x, want %#02x (noise on the line: check wiring)", ErrChecksum, a, a[8], want)
	}
	return nil
}
