package aht20

import (
	"context"
	"fmt"
	"time"

	"github.com/edgepub/edgepub/sensors"
	"github.com/edgepub/edgepub/sensors/internal/plausible"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
	periphaht20 "periph.io/x/devices/v3/aht20"
)

// DefaultAddr is the sensor's fixed I²C address.
const DefaultAddr uint16 = 0x38

// Measurable range of the device (datasheet, temperature specifications).
const (
	minCelsius = -40.0
	maxCelsius = 85.0
)

// Opts configures a Dev.
type Opts struct {
	// ReadTimeout bounds how long to keep polling a sensor that is still
	// busy after the 80 ms conversion wait. It must be positive.
	ReadTimeout time.Duration
}

// DefaultOpts gives a busy sensor 150 ms more, which covers the datasheet's
// conversion time with margin.
var DefaultOpts = Opts{ReadTimeout: 150 * time.Millisecond}

// Dev is an AHT20 on an I²C bus. It is safe for concurrent use.
type Dev struct {
	dev  *periphaht20.Dev
	addr uint16
	bus  string
}

var _ sensors.Sensor = (*Dev)(nil)

// NewI2C returns the AHT20 on b. The address is fixed in the device, so addr
// must be DefaultAddr. It reads the status and calibrates the sensor if it
// has not been since power-up. A nil opts means DefaultOpts.
func NewI2C(b i2c.Bus, addr uint16, opts *Opts) (*Dev, error) {
	if addr != DefaultAddr {
		return nil, fmt.Errorf("aht20: address %#x is not the AHT20's: its address is fixed at 0x38", addr)
	}
	if opts == nil {
		opts = &DefaultOpts
	}
	if opts.ReadTimeout <= 0 {
		// periph reads 0 as "poll forever", which would hang on a stuck sensor.
		return nil, fmt.Errorf("aht20: read timeout %v must be positive", opts.ReadTimeout)
	}
	d := &Dev{addr: addr, bus: b.String()}
	dev, err := periphaht20.NewI2C(b, &periphaht20.Opts{
		MeasurementReadTimeout:  opts.ReadTimeout,
		MeasurementWaitInterval: 10 * time.Millisecond,
		ValidateData:            true,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: read status and calibrate (is an AHT20 connected?): %w", d, err)
	}
	d.dev = dev
	return d, nil
}

// String names the device and where it is, for error messages and logs.
func (d *Dev) String() string {
	return fmt.Sprintf("aht20 at %#x on %s", d.addr, d.bus)
}

// Sense measures once and returns "temperature_c" and "humidity_pct". A
// corrupted reply fails with periph's *aht20.DataCorruptionError (CRC
// mismatch); a temperature outside -40..85 °C is reported as
// sensors.ErrImplausible.
func (d *Dev) Sense(ctx context.Context) (sensors.Values, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var env physic.Env
	if err := d.dev.Sense(&env); err != nil {
		return nil, fmt.Errorf("%s: read: %w", d, err)
	}
	celsius := env.Temperature.Celsius()
	if err := plausible.Temperature(celsius, minCelsius, maxCelsius, 2); err != nil {
		return nil, fmt.Errorf("%s: %w", d, err)
	}
	// The conversion formula cannot leave 0..100 %.
	humidity := float64(env.Humidity) / float64(physic.PercentRH)
	return sensors.Values{"temperature_c": celsius, "humidity_pct": humidity}, nil
}
