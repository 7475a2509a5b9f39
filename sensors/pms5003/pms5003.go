package pms5003

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/edgepub/edgepub/sensors"
	"github.com/edgepub/edgepub/sensors/internal/uart"
)

// Baud is the sensor's fixed line speed (datasheet, appendix I: 9600bps,
// no parity, one stop bit).
const Baud = 9600

// Port is a serial port opened by the caller; go.bug.st/serial's Port is one.
type Port = uart.Port

// Host commands (appendix II): start characters, command, two data bytes
// and the 16-bit sum of the five bytes before it.
var (
	cmdPassiveMode = []byte{0x42, 0x4D, 0xE1, 0x00, 0x00, 0x01, 0x70}
	cmdPassiveRead = []byte{0x42, 0x4D, 0xE2, 0x00, 0x00, 0x01, 0x71}
)

// A data frame starts with the two start characters and a frame length of
// 28 (2×13 data bytes + 2 check bytes). Including the length in the header
// keeps the 8-byte answer to the mode command (length 4) from passing for
// data.
var frameHeader = []byte{0x42, 0x4D, 0x00, 0x1C}

const frameSize = 32

// WarmUp is how long after power-up the fan needs before readings are
// stable (datasheet, note 1 of appendix I: at least 30 s).
const WarmUp = 30 * time.Second

// ErrChecksum means a frame's sum check did not match its bytes.
var ErrChecksum = errors.New("checksum mismatch")

// Opts configures a Dev.
type Opts struct {
	// Wait bounds one request for a frame. Zero means 1.5 s.
	Wait time.Duration
}

// DefaultOpts waits up to 1.5 s for a frame: a passive read answers at once,
// and a sensor that fell back to active mode after a power cut sends a frame
// at least every 2.3 s in its stable phase, usually much sooner.
var DefaultOpts = Opts{Wait: 1500 * time.Millisecond}

// Dev is a PMS5003 on a serial line. It is safe for concurrent use.
type Dev struct {
	conn *uart.Conn
	wait time.Duration

	mu      sync.Mutex
	started time.Time // when the port was (re)opened: the sensor powered up then, as far as edgepub knows
}

var _ sensors.Sensor = (*Dev)(nil)

// Open opens the serial port name (such as /dev/serial0 or /dev/ttyUSB0)
// and puts the sensor in passive mode. The port is reopened after a line
// failure, such as a USB adapter unplugged. A nil opts means DefaultOpts.
func Open(name string, opts *Opts) (*Dev, error) {
	d := newDev(opts)
	c, err := uart.Dial(name, Baud, d.setUp)
	if err != nil {
		return nil, fmt.Errorf("pms5003 on %s: %w", name, err)
	}
	d.conn = c
	return d, nil
}

// New uses a port the caller opened at 9600 8N1 and puts the sensor in
// passive mode. A nil opts means DefaultOpts.
func New(p Port, opts *Opts) (*Dev, error) {
	d := newDev(opts)
	c, err := uart.On(p, d.setUp)
	if err != nil {
		return nil, fmt.Errorf("pms5003 on %v: %w", p, err)
	}
	d.conn = c
	return d, nil
}

func newDev(opts *Opts) *Dev {
	if opts == nil {
		opts = &DefaultOpts
	}
	d := &Dev{wait: opts.Wait}
	if d.wait <= 0 {
		d.wait = DefaultOpts.Wait
	}
	return d
}

// setUp puts the sensor in passive mode and starts the warm-up; it runs
// whenever the port is opened.
func (d *Dev) setUp(p Port) error {
	if err := setPassive(p); err != nil {
		return err
	}
	d.mu.Lock()
	d.started = time.Now()
	d.mu.Unlock()
	return nil
}

// setPassive sends the passive-mode command. The sensor's short answer is
// not awaited: the next read drops it with the rest of the stale input.
func setPassive(p Port) error {
	if _, err := p.Write(cmdPassiveMode); err != nil {
		return fmt.Errorf("set passive mode: %w", err)
	}
	return nil
}

// String names the device and its port.
func (d *Dev) String() string { return "pms5003 on " + d.conn.String() }

// Close closes the serial port.
func (d *Dev) Close() error { return d.conn.Close() }

// Sense asks for one frame and returns the mass concentrations under
// atmospheric environment (data 4..6 of the frame), in µg/m³, as
// "pm1_0_ugm3", "pm2_5_ugm3" and "pm10_ugm3". The "CF=1" values (data
// 1..3) are meant for factory calibration and are not published. In the
// WarmUp after the port was opened it returns sensors.ErrWarmingUp once a
// frame came.
func (d *Dev) Sense(ctx context.Context) (sensors.Values, error) {
	frame, err := d.conn.Exchange(ctx, cmdPassiveRead, frameHeader, frameSize, d.wait, check)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d, err)
	}
	// The frame came, so the line works; its values wait for the fan.
	d.mu.Lock()
	warming := time.Now().Sub(d.started) < WarmUp
	d.mu.Unlock()
	if warming {
		return nil, fmt.Errorf("%s: the fan runs for %v after power-up before readings are stable: %w", d, WarmUp, sensors.ErrWarmingUp)
	}
	data := func(n int) float64 { return float64(binary.BigEndian.Uint16(frame[4+2*(n-1):])) }
	return sensors.Values{"pm1_0_ugm3": data(4), "pm2_5_ugm3": data(5), "pm10_ugm3": data(6)}, nil
}

// check compares the frame's last two bytes with the sum of all bytes
// before them (appendix I, "Check code").
func check(frame []byte) error {
	var sum uint16
	for _, b := range frame[:frameSize-2] {
		sum += uint16(b)
	}
	if got := binary.BigEndian.Uint16(frame[frameSize-2:]); got != sum {
		return fmt.Errorf("%w: frame says %#04x, its bytes sum to %#04x (noise on the line: check wiring and cable length)", ErrChecksum, got, sum)
	}
	return nil
}
