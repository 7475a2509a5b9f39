package sim

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/edgepub/edgepub/sensors"
)

// Model constants of the simulated SoC; doc.go describes the model.
const (
	idleSoCC        = 47.0
	socNoiseC       = 0.2
	meanBurstGap    = 5 * time.Minute
	meanBurstLength = 45 * time.Second
	shortestBurst   = 2 * time.Second
	longestBurst    = 10 * time.Minute
	burstMinC       = 3.0
	burstMaxC       = 9.0
	thermalLag      = 15 * time.Second
	// forgetAfter is a gap between reads after which the load history no
	// longer shows in the temperature, so the bursts in between need not be
	// played through one by one.
	forgetAfter     = 6 * time.Hour
	socRandomStream = 0x736f6321 // keeps a BME280 and a SoC with one seed independent
	lowestSoCC      = 30.0
	highestSoCC     = 85.0
)

// SoC is a simulated system-on-chip temperature sensor, such as a Raspberry
// Pi's /sys/class/thermal/thermal_zone0. It is safe for concurrent use.
type SoC struct {
	now func() time.Time

	mu    sync.Mutex
	rng   *rand.Rand
	clock elapsed
	idle  drift
	load  load
}

var _ sensors.Sensor = (*SoC)(nil)

// NewSoC returns a simulated SoC temperature sensor. A nil opts means the
// zero Opts; Location is not used.
func NewSoC(opts *Opts) *SoC {
	now, _ := opts.clock()
	return &SoC{
		now:  now,
		rng:  rand.New(rand.NewPCG(uint64(opts.seed()), socRandomStream)),
		idle: drift{sigma: 2, relax: time.Hour, limit: 5},
	}
}

// Sense returns soc_temperature_c at the clock's current time. It fails only
// when ctx is already done.
func (d *SoC) Sense(ctx context.Context) (sensors.Values, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t := d.now()

	d.mu.Lock()
	defer d.mu.Unlock()
	dt := d.clock.since(t)
	r := d.rng
	// The load follows clock.last rather than t so that, like the drift, it
	// stands still while a clock that stepped back catches up.
	temperature := idleSoCC + d.idle.advance(r, dt) + d.load.advance(r, d.clock.last) +
		socNoiseC*r.NormFloat64()

	return sensors.Values{
		"soc_temperature_c": round(clamp(temperature, lowestSoCC, highestSoCC), 1),
	}, nil
}

// load is the heat that bursts of CPU work add above the idle temperature. A
// burst sets a target the die approaches with thermalLag; between bursts the
// target is zero and the die cools back.
type load struct {
	at      time.Time // the time heat refers to; zero before the first read
	heat    float64   // °C above idle at time at
	target  float64   // °C above idle the die heads for; 0 when idle
	toggles time.Time // when the current burst or pause ends
}

// advance plays the bursts from the previous read up to t and returns the
// heat at t.
func (l *load) advance(r *rand.Rand, t time.Time) float64 {
	if l.at.IsZero() || t.Sub(l.at) > forgetAfter {
		l.restart(r, t)
		return l.heat
	}
	for !l.toggles.After(t) {
		l.cool(l.toggles)
		if l.target > 0 {
			l.target = 0
			l.toggles = l.toggles.Add(exponential(r, meanBurstGap))
		} else {
			l.startBurst(r, l.toggles)
		}
	}
	l.cool(t)
	return l.heat
}

// restart draws a state from the long-run mix of bursts and pauses, for the
// first read and after a gap long enough to have forgotten the past.
func (l *load) restart(r *rand.Rand, t time.Time) {
	l.at = t
	busy := meanBurstLength.Seconds() / (meanBurstLength + meanBurstGap).Seconds()
	if r.Float64() < busy {
		l.startBurst(r, t)
		// Part way into the burst: the die has warmed by a random share.
		l.heat = l.target * r.Float64()
		return
	}
	l.heat, l.target = 0, 0
	l.toggles = t.Add(exponential(r, meanBurstGap))
}

func (l *load) startBurst(r *rand.Rand, t time.Time) {
	l.target = burstMinC + (burstMaxC-burstMinC)*r.Float64()
	length := exponential(r, meanBurstLength)
	l.toggles = t.Add(min(max(length, shortestBurst), longestBurst))
}

// cool moves the heat towards the target over the time up to t, the first
// order response of a die with its heat sink.
func (l *load) cool(t time.Time) {
	if dt := t.Sub(l.at); dt > 0 {
		keep := math.Exp(-dt.Seconds() / thermalLag.Seconds())
		l.heat = l.target + (l.heat-l.target)*keep
		l.at = t
	}
}

// exponential draws a duration with the given mean: the wait between
// independent random events.
func exponential(r *rand.Rand, mean time.Duration) time.Duration {
	return time.Duration(r.ExpFloat64() * float64(mean))
}
