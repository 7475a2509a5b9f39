package hdc302x

import (
	"context"
	"fmt"
	"time"

	"github.com/edgepub/edgepub/sensors"
	"github.com/edgepub/edgepub/sensors/internal/plausible"
	"github.com/edgepub/edgepub/sensors/internal/sensirion"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
	periphhdc302x "periph.io/x/devices/v3/hdc302x"
)

// DefaultAddr is the address with both address pins low; the ADDR and ADDR1
// pins select 0x44 to 0x47.
const DefaultAddr uint16 = 0x44

// Measurable range of the device (datasheet, operating range).
const (
	minCelsius = -40.0
	maxCelsius = 125.0
)

// SampleRate is how often the sensor measures on its own. It is periph's
// type, named here so callers need not import periph.
type SampleRate = periphhdc302x.SampleRate

// Sample rates. Faster rates warm the sensor more (self-heating).
const (
	RateHalfHertz = periphhdc302x.RateHalfHertz
	RateHertz     = periphhdc302x.RateHertz
	RateTwoHertz  = periphhdc302x.RateTwoHertz
	RateFourHertz = periphhdc302x.RateFourHertz
	Rate10Hertz   = periphhdc302x.Rate10Hertz
)

// Period is how often the sensor measures at rate r: each result can be
// read once, so reads closer than this get no new measurement.
func Period(r SampleRate) time.Duration {
	periods := []time.Duration{2 * time.Second, time.Second, 500 * time.Millisecond, 250 * time.Millisecond, 100 * time.Millisecond}
	if int(r) < len(periods) {
		return periods[r]
	}
	return 0
}

// Opts configures a Dev.
type Opts struct {
	// SampleRate is the sensor's own measurement rate. NewI2C waits one
	// sample period (2 s at RateHalfHertz, 100 ms at Rate10Hertz).
	SampleRate SampleRate
}

// DefaultOpts measures once a second: fresh enough for any reading interval
// of a few seconds, slow enough that self-heating stays negligible.
var DefaultOpts = Opts{SampleRate: RateHertz}

// Dev is an HDC302x on an I²C bus. It is safe for concurrent use.
type Dev struct {
	dev    *periphhdc302x.Dev
	addr   uint16
	bus    string
	period time.Duration
}

// exitAutoMode is the "Auto Measurement Mode Exit" command (datasheet table
// 7-3, 0x3093): a chip left measuring by a crashed edgepub ignores other
// configuration until it gets it.
var exitAutoMode = []byte{0x30, 0x93}

var _ sensors.Sensor = (*Dev)(nil)

// NewI2C returns the HDC302x at addr (0x44 to 0x47) on b and starts its
// continuous measurements; it blocks for one sample period. A chip still
// measuring since an earlier start is stopped first, so that it takes the
// new rate. A nil opts means DefaultOpts.
func NewI2C(b i2c.Bus, addr uint16, opts *Opts) (*Dev, error) {
	d := &Dev{addr: addr, bus: b.String()}
	if addr < 0x44 || addr > 0x47 {
		return nil, fmt.Errorf("%s: address must be 0x44 to 0x47 (set by the ADDR pins)", d)
	}
	if opts == nil {
		opts = &DefaultOpts
	}
	if opts.SampleRate > Rate10Hertz {
		return nil, fmt.Errorf("%s: unknown sample rate %d: use one of the Rate constants", d, opts.SampleRate)
	}
	// A chip in sleep mode may NACK the exit; the identity check below
	// tells whether one answers at all.
	_ = b.Tx(addr, exitAutoMode, nil)
	if err := checkIdentity(b, addr); err != nil {
		return nil, fmt.Errorf("%s: %w", d, err)
	}
	dev, err := periphhdc302x.NewI2C(b, addr, opts.SampleRate)
	if err != nil {
		return nil, fmt.Errorf("%s: start measurements (is an HDC302x connected there?): %w", d, err)
	}
	d.dev, d.period = dev, Period(opts.SampleRate)
	return d, nil
}

// manufacturerID is what the manufacturer id command (0x3781) returns for
// Texas Instruments, per the datasheet's command table.
const manufacturerID = 0x3000

// checkIdentity reads the manufacturer id, so that another chip at
// 0x44..0x47 (an SHT4x or an INA219 can sit there) is refused before any
// command is written to it.
func checkIdentity(b i2c.Bus, addr uint16) error {
	var r [3]byte
	if err := b.Tx(addr, []byte{0x37, 0x81}, r[:]); err != nil {
		return fmt.Errorf("reading the manufacturer id (is an HDC302x connected there?): %w", err)
	}
	w, err := sensirion.DecodeWords(r[:])
	if err != nil {
		return fmt.Errorf("reading the manufacturer id: %w", err)
	}
	if w[0] != manufacturerID {
		return fmt.Errorf("manufacturer id %#04x is not TI's %#04x: another chip answers at this address", w[0], manufacturerID)
	}
	return nil
}

// Spacing is the sample period: the chip hands out each result once.
func (d *Dev) Spacing() time.Duration { return d.period }

// String names the device and where it is, for error messages and logs.
func (d *Dev) String() string {
	return fmt.Sprintf("hdc302x at %#x on %s", d.addr, d.bus)
}

// Sense reads the latest measurement and returns "temperature_c" and
// "humidity_pct". A corrupted reply fails with an "invalid crc" error; a
// temperature outside -40..125 °C is reported as sensors.ErrImplausible.
// ctx is checked before the bus is touched; the restart wait after Halt
// cannot be interrupted.
func (d *Dev) Sense(ctx context.Context) (sensors.Values, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var env physic.Env
	if err := d.dev.Sense(&env); err != nil {
		return nil, fmt.Errorf("%s: read: %w", d, err)
	}
	celsius := env.Temperature.Celsius()
	// Datasheet section 7.4.1: "temperature and humidity data is only
	// available to be read by the controller once. Any following attempts
	// to read temperature and humidity results produces the minimum
	// temperature and humidity values", raw 0 and 0.
	if celsius == -45 && env.Humidity == 0 {
		return nil, fmt.Errorf("%s: the chip gave its minimum values, which it sends when its last result was already read: read it at most every %v", d, d.period)
	}
	if err := plausible.Temperature(celsius, minCelsius, maxCelsius, 2); err != nil {
		return nil, fmt.Errorf("%s: %w", d, err)
	}
	// The conversion formula cannot leave 0..100 %.
	humidity := float64(env.Humidity) / float64(physic.PercentRH)
	return sensors.Values{"temperature_c": celsius, "humidity_pct": humidity}, nil
}

// Halt stops the continuous measurements, which saves power. The next Sense
// starts them again and waits one sample period.
func (d *Dev) Halt() error {
	if err := d.dev.Halt(); err != nil {
		return fmt.Errorf("%s: stop measurements: %w", d, err)
	}
	return nil
}
