package mcp9808

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/edgepub/edgepub/sensors"
	"github.com/edgepub/edgepub/sensors/internal/conversion"
	"github.com/edgepub/edgepub/sensors/internal/plausible"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
	periphmcp9808 "periph.io/x/devices/v3/mcp9808"
)

// DefaultAddr is the address with A0, A1 and A2 tied to ground; the pins
// select 0x18 to 0x1F.
const DefaultAddr uint16 = 0x18

// Measurable range of the device (datasheet, operating range).
const (
	minCelsius = -40.0
	maxCelsius = 125.0
)

// Identification registers and their fixed contents (datasheet, register
// 0x06 and the upper byte of register 0x07).
const (
	regManufacturerID = 0x06
	regDeviceID       = 0x07
	manufacturerID    = 0x0054
	deviceID          = 0x04
	regConfig         = 0x01
	configShutdown    = 0x0100
)

// Resolution is the temperature step the sensor resolves. Finer steps take
// longer per conversion.
type Resolution uint8

// Resolutions the sensor supports. The zero value is the finest, which is
// also the device's power-on setting.
const (
	SixteenthDegree Resolution = iota // 0.0625 °C, 250 ms per conversion
	EighthDegree                      // 0.125 °C, 130 ms
	QuarterDegree                     // 0.25 °C, 65 ms
	HalfDegree                        // 0.5 °C, 30 ms
)

var resolutions = [...]struct {
	periph     periphmcp9808.Opts
	conversion time.Duration
}{
	SixteenthDegree: {periphmcp9808.Opts{Res: periphmcp9808.Maximum}, 250 * time.Millisecond},
	EighthDegree:    {periphmcp9808.Opts{Res: periphmcp9808.High}, 130 * time.Millisecond},
	QuarterDegree:   {periphmcp9808.Opts{Res: periphmcp9808.Medium}, 65 * time.Millisecond},
	HalfDegree:      {periphmcp9808.Opts{Res: periphmcp9808.Low}, 30 * time.Millisecond},
}

// Opts configures a Dev.
type Opts struct {
	// Resolution is the temperature step of each conversion.
	Resolution Resolution
}

// DefaultOpts uses the finest resolution, 0.0625 °C; four conversions a
// second are still far more than any reading interval needs.
var DefaultOpts = Opts{Resolution: SixteenthDegree}

// Dev is an MCP9808 on an I²C bus. It is safe for concurrent use.
type Dev struct {
	dev  *periphmcp9808.Dev
	reg  i2c.Dev
	opts Opts

	mu sync.Mutex
	// fresh holds the first read after power-up or wake-up back until a
	// conversion has finished: the temperature register may still hold its
	// reset value.
	fresh conversion.Gate
}

var _ sensors.Sensor = (*Dev)(nil)

// NewI2C returns the MCP9808 at addr (0x18 to 0x1F) on b. It checks the
// manufacturer and device ids, sets the resolution and starts continuous
// conversion. A nil opts means DefaultOpts.
func NewI2C(b i2c.Bus, addr uint16, opts *Opts) (*Dev, error) {
	d := &Dev{reg: i2c.Dev{Bus: b, Addr: addr}}
	if addr < 0x18 || addr > 0x1F {
		return nil, fmt.Errorf("%s: address must be 0x18 to 0x1F (set by the A0..A2 pins)", d)
	}
	if opts == nil {
		opts = &DefaultOpts
	}
	if int(opts.Resolution) >= len(resolutions) {
		return nil, fmt.Errorf("%s: unknown resolution %d: use one of the Resolution constants", d, opts.Resolution)
	}
	d.opts = *opts
	d.fresh = conversion.NewGate(resolutions[d.opts.Resolution].conversion)
	if err := d.checkIdentity(); err != nil {
		return nil, err
	}
	periphOpts := resolutions[d.opts.Resolution].periph
	periphOpts.Addr = int(addr)
	dev, err := periphmcp9808.New(b, &periphOpts)
	if err != nil {
		return nil, fmt.Errorf("%s: set resolution and start: %w", d, err)
	}
	d.dev = dev
	return d, nil
}

// checkIdentity makes sure an MCP9808, not some other chip in the same
// address range, answers: periph would otherwise happily decode anything.
func (d *Dev) checkIdentity() error {
	var b [2]byte
	if err := d.reg.Tx([]byte{regManufacturerID}, b[:]); err != nil {
		return fmt.Errorf("%s: read manufacturer id (is an MCP9808 connected there?): %w", d, err)
	}
	if got := uint16(b[0])<<8 | uint16(b[1]); got != manufacturerID {
		return fmt.Errorf("%s: manufacturer id is %#04x, want %#04x: another chip answers at this address", d, got, manufacturerID)
	}
	if err := d.reg.Tx([]byte{regDeviceID}, b[:]); err != nil {
		return fmt.Errorf("%s: read device id: %w", d, err)
	}
	if b[0] != deviceID {
		return fmt.Errorf("%s: device id is %#02x, want %#02x: another Microchip sensor answers at this address", d, b[0], deviceID)
	}
	return nil
}

// String names the device and where it is, for error messages and logs.
func (d *Dev) String() string {
	return fmt.Sprintf("mcp9808 at %#x on %s", d.reg.Addr, d.reg.Bus)
}

// Sense returns "temperature_c". A temperature outside -40..125 °C is
// reported as sensors.ErrImplausible. After NewI2C or Halt it first waits
// one conversion time, returning early if ctx is done.
func (d *Dev) Sense(ctx context.Context) (sensors.Values, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.fresh.Await(ctx, d.wake); err != nil {
		return nil, fmt.Errorf("%s: %w", d, err)
	}
	var env physic.Env
	if err := d.dev.Sense(&env); err != nil {
		return nil, fmt.Errorf("%s: read: %w", d, err)
	}
	celsius := env.Temperature.Celsius()
	if err := plausible.Temperature(celsius, minCelsius, maxCelsius, 4); err != nil {
		return nil, fmt.Errorf("%s: %w", d, err)
	}
	return sensors.Values{"temperature_c": celsius}, nil
}

// Halt puts the sensor into shutdown (about 0.1 µA instead of 200 µA). The
// next Sense wakes it and waits one conversion.
func (d *Dev) Halt() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	// Not periph's Halt: it would leave periph to wake the sensor and read
	// in one step, before a conversion could finish.
	if err := d.writeConfig(configShutdown); err != nil {
		return fmt.Errorf("%s: shut down: %w", d, err)
	}
	d.fresh.MarkHalted()
	return nil
}

// wake clears the shutdown bit. Waking the sensor here rather than leaving
// it to periph, which would only wake it in the same breath as reading, lets
// a conversion finish first.
func (d *Dev) wake() error { return d.writeConfig(0) }

func (d *Dev) writeConfig(v uint16) error {
	return d.reg.Tx([]byte{regConfig, byte(v >> 8), byte(v)}, nil)
}
