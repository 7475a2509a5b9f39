package tmp102

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
	periphtmp102 "periph.io/x/devices/v3/tmp102"
)

// DefaultAddr is the address with ADD0 tied to ground; tied to V+, SDA or
// SCL it is 0x49, 0x4A or 0x4B.
const DefaultAddr uint16 = 0x48

// Operating range of the device (datasheet, absolute and recommended
// conditions); the 12-bit register cannot show more than 127.9375 °C.
const (
	minCelsius = -55.0
	maxCelsius = 150.0
)

const (
	regConfig = 0x01
	// configShutdown is the SD bit of the 16-bit configuration register.
	configShutdown = 0x0100
	// conversionTime is the datasheet's maximum (26 ms typical).
	conversionTime = 35 * time.Millisecond
)

// SampleRate is how often the sensor converts on its own. It is periph's
// type, named here so callers need not import periph.
type SampleRate = periphtmp102.ConversionRate

// Sample rates the sensor supports.
const (
	RateQuarterHertz = periphtmp102.RateQuarterHertz
	RateOneHertz     = periphtmp102.RateOneHertz
	RateFourHertz    = periphtmp102.RateFourHertz
	RateEightHertz   = periphtmp102.RateEightHertz
)

// Opts configures a Dev.
type Opts struct {
	// SampleRate is the sensor's own conversion rate.
	SampleRate SampleRate
}

// DefaultOpts keeps the device's power-on rate of four conversions a second,
// fresh enough for any reading interval.
var DefaultOpts = Opts{SampleRate: RateFourHertz}

// Dev is a TMP102 on an I²C bus. It is safe for concurrent use.
type Dev struct {
	dev  *periphtmp102.Dev
	reg  i2c.Dev
	opts Opts

	mu sync.Mutex
	// fresh holds the first read after power-up or wake-up back until a
	// conversion has finished: the temperature register may hold a stale
	// value.
	fresh conversion.Gate
}

var _ sensors.Sensor = (*Dev)(nil)

// NewI2C returns the TMP102 at addr (0x48 to 0x4B) on b and sets its
// conversion rate. A nil opts means DefaultOpts.
func NewI2C(b i2c.Bus, addr uint16, opts *Opts) (*Dev, error) {
	d := &Dev{reg: i2c.Dev{Bus: b, Addr: addr}}
	if addr < 0x48 || addr > 0x4B {
		return nil, fmt.Errorf("%s: address must be 0x48 to 0x4B (set by the ADD0 pin)", d)
	}
	if opts == nil {
		opts = &DefaultOpts
	}
	if opts.SampleRate > RateEightHertz {
		return nil, fmt.Errorf("%s: unknown sample rate %d: use one of the Rate constants", d, opts.SampleRate)
	}
	d.opts = *opts
	d.fresh = conversion.NewGate(conversionTime)
	// periph keeps the pointer and may change the options it points to.
	dev, err := periphtmp102.NewI2C(b, addr, &periphtmp102.Opts{SampleRate: d.opts.SampleRate, AlertSetting: periphtmp102.ModeComparator})
	if err != nil {
		return nil, fmt.Errorf("%s: configure (is a TMP102 connected there?): %w", d, err)
	}
	d.dev = dev
	return d, nil
}

// String names the device and where it is, for error messages and logs.
func (d *Dev) String() string {
	return fmt.Sprintf("tmp102 at %#x on %s", d.reg.Addr, d.reg.Bus)
}

// Sense returns "temperature_c". A temperature outside -55..150 °C is
// reported as sensors.ErrImplausible. After NewI2C or Halt it first waits one conversion,
// returning early if ctx is done.
//
// The device has no identification register and a stuck bus reading 0xFFFF
// decodes as a plausible -0.0625 °C, so a wrong chip at the address is not
// detected here.
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

// Halt puts the sensor into shutdown (0.5 µA instead of 10 µA). The next
// Sense wakes it and waits one conversion.
func (d *Dev) Halt() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	// periph's Halt (v3.7.4) clears the shutdown bit instead of setting it,
	// but it must still run so periph reconfigures the sensor on next use.
	if err := d.dev.Halt(); err != nil {
		return fmt.Errorf("%s: halt: %w", d, err)
	}
	if err := d.setShutdown(true); err != nil {
		return fmt.Errorf("%s: shut down: %w", d, err)
	}
	d.fresh.MarkHalted()
	return nil
}

// wake clears the shutdown bit. Waking the sensor here rather than leaving
// it to periph, which wakes and reads in the same breath, lets a conversion
// finish first.
func (d *Dev) wake() error { return d.setShutdown(false) }

// setShutdown sets or clears the SD bit, keeping the rest of the
// configuration.
func (d *Dev) setShutdown(on bool) error {
	var b [2]byte
	if err := d.reg.Tx([]byte{regConfig}, b[:]); err != nil {
		return fmt.Errorf("read configuration: %w", err)
	}
	config := uint16(b[0])<<8 | uint16(b[1])
	if on {
		config |= configShutdown
	} else {
		config &^= configShutdown
	}
	if err := d.reg.Tx([]byte{regConfig, byte(config >> 8), byte(config)}, nil); err != nil {
		return fmt.Errorf("write configuration: %w", err)
	}
	return nil
}
