package bmxx80

import (
	"context"
	"fmt"
	"strings"

	"github.com/edgepub/edgepub/sensors"
	"github.com/edgepub/edgepub/sensors/internal/plausible"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"
	periphbmxx80 "periph.io/x/devices/v3/bmxx80"
)

// DefaultAddr is the BMx280's address with SDO tied to ground; with SDO high
// it is 0x77, which is also the BMP180's only address.
const DefaultAddr uint16 = 0x76

// Measurable range shared by the three models (datasheets, operating range).
const (
	minCelsius = -40.0
	maxCelsius = 85.0
	minHPa     = 300.0
	maxHPa     = 1100.0
)

// Oversampling is how many samples the sensor averages per quantity: more
// means less noise and a longer conversion. It is periph's type, named here
// so callers need not import periph.
type Oversampling = periphbmxx80.Oversampling

// Oversampling settings. Off skips a quantity; the BMP180 always measures
// temperature and pressure and caps pressure at O8x.
const (
	Off  = periphbmxx80.Off
	O1x  = periphbmxx80.O1x
	O2x  = periphbmxx80.O2x
	O4x  = periphbmxx80.O4x
	O8x  = periphbmxx80.O8x
	O16x = periphbmxx80.O16x
)

// Opts configures a Dev.
type Opts struct {
	// Temperature must not be Off on a BMx280: the pressure and humidity
	// compensation need it.
	Temperature Oversampling
	// Pressure set to Off leaves "pressure_hpa" out of the values
	// (BMx280 only).
	Pressure Oversampling
	// Humidity is only measured by the BME280; Off leaves "humidity_pct" out.
	Humidity Oversampling
}

// DefaultOpts samples every quantity once, as the datasheets recommend for
// weather monitoring: a conversion takes about 8 ms and the noise (3.3 Pa,
// 0.07 %RH) is far below what a reading interval of seconds needs.
var DefaultOpts = Opts{Temperature: O1x, Pressure: O1x, Humidity: O1x}

// Dev is a BMP180, BMP280 or BME280 on an I²C bus or SPI port. It is safe
// for concurrent use.
type Dev struct {
	dev      *periphbmxx80.Dev
	where    string
	model    string
	pressure bool
	humidity bool
}

var _ sensors.Sensor = (*Dev)(nil)

// NewI2C returns the sensor at addr (0x76 or 0x77) on b. It reads the chip
// id and calibration and puts a BMx280 to sleep between measurements. A nil
// opts means DefaultOpts.
func NewI2C(b i2c.Bus, addr uint16, opts *Opts) (*Dev, error) {
	where := fmt.Sprintf("at %#x on %s", addr, b)
	if addr != 0x76 && addr != 0x77 {
		return nil, fmt.Errorf("bmxx80 %s: address must be 0x76 or 0x77 (set by the SDO pin)", where)
	}
	o := withDefaults(opts)
	dev, err := periphbmxx80.NewI2C(&guardedBus{Bus: b}, addr, &o)
	if err != nil {
		return nil, fmt.Errorf("bmxx80 %s: detect and configure (is a BMP180, BMP280 or BME280 connected there?): %w", where, err)
	}
	return newDev(dev, where, o), nil
}

// NewSPI returns the BMP280 or BME280 on p; the port's chip select must be
// wired to the sensor's CSB. A nil opts means DefaultOpts.
func NewSPI(p spi.Port, opts *Opts) (*Dev, error) {
	where := fmt.Sprintf("on %s", p)
	o := withDefaults(opts)
	dev, err := periphbmxx80.NewSPI(guardedPort{Port: p}, &o)
	if err != nil {
		return nil, fmt.Errorf("bmxx80 %s: detect and configure (is a BMP280 or BME280 connected there?): %w", where, err)
	}
	return newDev(dev, where, o), nil
}

// withDefaults turns our options into periph's. periph dereferences its opts
// without a nil check, so nil must never reach it.
func withDefaults(opts *Opts) periphbmxx80.Opts {
	if opts == nil {
		opts = &DefaultOpts
	}
	return periphbmxx80.Opts{Temperature: opts.Temperature, Pressure: opts.Pressure, Humidity: opts.Humidity}
}

func newDev(dev *periphbmxx80.Dev, where string, o periphbmxx80.Opts) *Dev {
	// periph keeps the detected model private; its String starts with it,
	// as in "BME280{playback(118)}".
	model, _, _ := strings.Cut(dev.String(), "{")
	return &Dev{
		dev:   dev,
		where: where,
		model: model,
		// The BMP180 always measures pressure; the BMx280 only when asked.
		pressure: model == "BMP180" || o.Pressure != Off,
		humidity: model == "BME280" && o.Humidity != Off,
	}
}

// Model is the detected chip: "BMP180", "BMP280" or "BME280".
func (d *Dev) Model() string {
	return d.model
}

// String names the device and where it is, for error messages and logs.
func (d *Dev) String() string {
	return fmt.Sprintf("%s %s", strings.ToLower(d.model), d.where)
}

// Sense measures once and returns "temperature_c", "pressure_hpa" (unless
// Opts.Pressure is Off) and, on a BME280, "humidity_pct" (unless
// Opts.Humidity is Off). Values outside -40..85 °C or 300..1100 hPa are
// reported as sensors.ErrImplausible.
//
// ctx is checked before the bus is touched. The conversion wait inside
// periph (about 8 ms with DefaultOpts, at most about 100 ms with O16x
// everywhere) cannot be interrupted.
func (d *Dev) Sense(ctx context.Context) (sensors.Values, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var env physic.Env
	if err := d.dev.Sense(&env); err != nil {
		return nil, fmt.Errorf("%s: read: %w", d, err)
	}
	// physic stores temperature in nanokelvin, pressure in nanopascal and
	// humidity in units of 0.00001 %RH.
	celsius := env.Temperature.Celsius()
	if err := plausible.Temperature(celsius, minCelsius, maxCelsius, 2); err != nil {
		return nil, fmt.Errorf("%s: %w", d, err)
	}
	values := sensors.Values{"temperature_c": celsius}
	if d.pressure {
		hPa := float64(env.Pressure) / float64(100*physic.Pascal)
		if hPa < minHPa || hPa > maxHPa {
			return nil, fmt.Errorf("%s: pressure %.2f hPa outside the sensor's range %g..%g hPa: %w", d, hPa, minHPa, maxHPa, sensors.ErrImplausible)
		}
		values["pressure_hpa"] = hPa
	}
	if d.humidity {
		// periph clamps humidity to 0..100 %, as the datasheet does.
		values["humidity_pct"] = float64(env.Humidity) / float64(physic.PercentRH)
	}
	return values, nil
}
