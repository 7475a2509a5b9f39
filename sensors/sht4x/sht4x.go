package sht4x

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/edgepub/edgepub/sensors"
	"github.com/edgepub/edgepub/sensors/internal/pause"
	"github.com/edgepub/edgepub/sensors/internal/plausible"
	"github.com/edgepub/edgepub/sensors/internal/sensirion"
	"periph.io/x/conn/v3/i2c"
)

// DefaultAddr is the I²C address of the common SHT4x-AD1B parts; the BD1B and
// CD1B variants answer at 0x45 and 0x46.
const DefaultAddr uint16 = 0x44

// Measurable range of the device (datasheet, specifications).
const (
	minCelsius = -40.0
	maxCelsius = 125.0
)

// Commands and their waits; each wait is the datasheet's maximum duration
// rounded up, because reading early makes the sensor NACK.
const (
	cmdSoftReset    = 0x94
	cmdSerialNumber = 0x89
	waitSoftReset   = time.Millisecond
	waitSerial      = 10 * time.Millisecond
)

// ErrCRC means a word read from the sensor did not match its checksum: the
// bytes were corrupted on the wire, usually by long cables or weak pull-ups.
var ErrCRC = errors.New("CRC mismatch")

// Precision selects the measurement's repeatability. Higher precision takes
// longer and draws more energy; the zero value is the highest precision.
type Precision uint8

// The three repeatability levels of the datasheet's command table.
const (
	High Precision = iota
	Medium
	Low
)

type measureCommand struct {
	code byte
	wait time.Duration
}

var measureCommands = [...]measureCommand{
	High:   {code: 0xFD, wait: 10 * time.Millisecond},
	Medium: {code: 0xF6, wait: 5 * time.Millisecond},
	Low:    {code: 0xE0, wait: 2 * time.Millisecond},
}

// String names the precision for logs and test names.
func (p Precision) String() string {
	switch p {
	case High:
		return "high"
	case Medium:
		return "medium"
	case Low:
		return "low"
	}
	return fmt.Sprintf("Precision(%d)", uint8(p))
}

// Opts configures a Dev.
type Opts struct {
	// Precision is the repeatability of each measurement.
	Precision Precision
}

// DefaultOpts measures at high precision (about 8 ms per read, still far
// below any useful sampling interval).
var DefaultOpts = Opts{Precision: High}

// Dev is an SHT4x on an I²C bus. It is safe for concurrent use: commands and
// their replies never interleave.
type Dev struct {
	d      i2c.Dev
	opts   Opts
	serial uint32

	mu sync.Mutex
}

var _ sensors.Sensor = (*Dev)(nil)

// NewI2C returns the SHT4x at addr on b. It reads the serial number once to
// make sure a working SHT4x answers there. A nil opts means DefaultOpts.
func NewI2C(b i2c.Bus, addr uint16, opts *Opts) (*Dev, error) {
	switch addr {
	case 0x44, 0x45, 0x46:
	default:
		return nil, fmt.Errorf("sht4x: address %#x is not an SHT4x address: use 0x44, 0x45 or 0x46", addr)
	}
	if opts == nil {
		opts = &DefaultOpts
	}
	if int(opts.Precision) >= len(measureCommands) {
		return nil, fmt.Errorf("sht4x: unknown precision %d: use High, Medium or Low", opts.Precision)
	}
	d := &Dev{d: i2c.Dev{Bus: b, Addr: addr}, opts: *opts}
	var reply [6]byte
	// The constructor has no caller context; the wait is 10 ms.
	if err := d.command(context.Background(), cmdSerialNumber, waitSerial, reply[:]); err != nil {
		return nil, fmt.Errorf("%s: read serial number (is an SHT4x connected at this address?): %w", d, err)
	}
	hi, err := word(reply[0:3])
	if err != nil {
		return nil, fmt.Errorf("%s: read serial number: %w", d, err)
	}
	lo, err := word(reply[3:6])
	if err != nil {
		return nil, fmt.Errorf("%s: read serial number: %w", d, err)
	}
	d.serial = uint32(hi)<<16 | uint32(lo)
	return d, nil
}

// String names the device and where it is, for error messages and logs.
func (d *Dev) String() string {
	return fmt.Sprintf("sht4x at %#x on %s", d.d.Addr, d.d.Bus)
}

// SerialNumber is the 32-bit serial number read when the Dev was created.
func (d *Dev) SerialNumber() uint32 {
	return d.serial
}

// Sense measures once and returns "temperature_c" and "humidity_pct".
// Humidity is clamped to 0..100 % as the datasheet recommends; a temperature
// outside -40..125 °C or a reply of all 0x00 or all 0xFF is reported as
// sensors.ErrImplausible.
func (d *Dev) Sense(ctx context.Context) (sensors.Values, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	cmd := measureCommands[d.opts.Precision]
	var reply [6]byte
	if err := d.command(ctx, cmd.code, cmd.wait, reply[:]); err != nil {
		return nil, fmt.Errorf("%s: measure: %w", d, err)
	}
	if allBytes(reply[:], 0x00) || allBytes(reply[:], 0xFF) {
		return nil, fmt.Errorf("%s: measure: reply is all %#02x, as from a bus with no sensor on it (check wiring and address): %w", d, reply[0], sensors.ErrImplausible)
	}
	rawT, err := word(reply[0:3])
	if err != nil {
		return nil, fmt.Errorf("%s: temperature: %w", d, err)
	}
	rawRH, err := word(reply[3:6])
	if err != nil {
		return nil, fmt.Errorf("%s: humidity: %w", d, err)
	}
	celsius := -45 + 175*float64(rawT)/65535
	if err := plausible.Temperature(celsius, minCelsius, maxCelsius, 2); err != nil {
		return nil, fmt.Errorf("%s: %w", d, err)
	}
	humidity := min(max(-6+125*float64(rawRH)/65535, 0), 100)
	return sensors.Values{"temperature_c": celsius, "humidity_pct": humidity}, nil
}

// Reset sends a soft reset, which returns the sensor to its power-on state.
// It is a way out when the sensor keeps NACKing.
func (d *Dev) Reset(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.command(ctx, cmdSoftReset, waitSoftReset, nil); err != nil {
		return fmt.Errorf("%s: soft reset: %w", d, err)
	}
	return nil
}

// command writes code, waits for the sensor to finish and reads the reply
// into r, if any.
func (d *Dev) command(ctx context.Context, code byte, wait time.Duration, r []byte) error {
	if err := d.d.Tx([]byte{code}, nil); err != nil {
		return fmt.Errorf("write command %#02x: %w", code, err)
	}
	if err := pause.For(ctx, wait); err != nil {
		return fmt.Errorf("wait for command %#02x: %w", code, err)
	}
	if len(r) == 0 {
		return nil
	}
	if err := d.d.Tx(nil, r); err != nil {
		return fmt.Errorf("read reply: %w", err)
	}
	return nil
}

// word checks and decodes one big-endian word followed by its CRC.
func word(b []byte) (uint16, error) {
	if got, want := b[2], sensirion.CRC8(b[:2]); got != want {
		return 0, fmt.Errorf("%w: word %#02x%02x has CRC %#02x, want %#02x (noise on the bus: check cable length and pull-ups)", ErrCRC, b[0], b[1], got, want)
	}
	return binary.BigEndian.Uint16(b), nil
}

func allBytes(b []byte, v byte) bool {
	for _, x := range b {
		if x != v {
			return false
		}
	}
	return true
}
