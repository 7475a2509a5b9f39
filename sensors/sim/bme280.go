package sim

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/edgepub/edgepub/sensors"
)

// Model constants of the simulated BME280; doc.go describes the model.
const (
	meanTemperatureC   = 21.0
	dailySwingC        = 3.0
	temperatureNoiseC  = 0.02
	meanDewPointC      = 10.0
	humidityNoisePct   = 0.1
	meanPressureHPa    = 1013.25
	pressureNoiseHPa   = 0.02
	bme280RandomStream = 0x626d6532 // keeps a BME280 and a SoC with one seed independent
)

// BME280 is a simulated Bosch BME280: temperature, relative humidity and air
// pressure in a room. It is safe for concurrent use.
type BME280 struct {
	now func() time.Time
	loc *time.Location

	mu          sync.Mutex
	rng         *rand.Rand
	clock       elapsed
	temperature drift
	dewPoint    drift
	pressure    drift
}

var _ sensors.Sensor = (*BME280)(nil)

// NewBME280 returns a simulated BME280. A nil opts means the zero Opts.
func NewBME280(opts *Opts) *BME280 {
	now, loc := opts.clock()
	return &BME280{
		now:         now,
		loc:         loc,
		rng:         rand.New(rand.NewPCG(uint64(opts.seed()), bme280RandomStream)),
		temperature: drift{sigma: 1, relax: 2 * time.Hour, limit: 3},
		dewPoint:    drift{sigma: 1.5, relax: 4 * time.Hour, limit: 4.5},
		pressure:    drift{sigma: 5, relax: 12 * time.Hour, limit: 15},
	}
}

// Sense returns temperature_c, humidity_pct and pressure_hpa at the clock's
// current time. It fails only when ctx is already done.
func (d *BME280) Sense(ctx context.Context) (sensors.Values, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t := d.now()
	if d.loc != nil {
		t = t.In(d.loc)
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	dt := d.clock.since(t)
	r := d.rng
	temperature := meanTemperatureC + dailySwingC*dailyShape(t) + d.temperature.advance(r, dt)
	dewPoint := math.Min(meanDewPointC+d.dewPoint.advance(r, dt), temperature)
	humidity := 100*saturationPressure(dewPoint)/saturationPressure(temperature) +
		humidityNoisePct*r.NormFloat64()
	pressure := meanPressureHPa + d.pressure.advance(r, dt) + pressureNoiseHPa*r.NormFloat64()
	temperature += temperatureNoiseC * r.NormFloat64()

	return sensors.Values{
		"temperature_c": round(temperature, 2),
		"humidity_pct":  round(clamp(humidity, 0, 100), 1),
		"pressure_hpa":  round(pressure, 2),
	}, nil
}

// saturationPressure is the Magnus formula for water vapour over water, in
// hPa, good to 0.1 % between -45 °C and 60 °C.
func saturationPressure(celsius float64) float64 {
	return 6.112 * math.Exp(17.62*celsius/(243.12+celsius))
}
