package sim

import (
	"math"
	"math/rand/v2"
	"time"
)

// drift is a bounded Ornstein-Uhlenbeck process around zero. Its update is the
// exact solution over any interval, which is what makes a 1 s and a 60 s read
// interval trace the same kind of curve.
type drift struct {
	sigma   float64       // standard deviation in the long run
	relax   time.Duration // time after which a deviation has decayed to 1/e
	limit   float64       // hard bound on |value|, so readings stay physical
	value   float64
	started bool
}

// advance moves the process forward by dt and returns its new value. The
// first call draws the value from the long-run distribution, so a fresh
// sensor does not always start at the mean.
func (d *drift) advance(r *rand.Rand, dt time.Duration) float64 {
	switch {
	case !d.started:
		d.started = true
		d.value = d.sigma * r.NormFloat64()
	case dt > 0:
		keep := math.Exp(-dt.Seconds() / d.relax.Seconds())
		d.value = d.value*keep + d.sigma*math.Sqrt(1-keep*keep)*r.NormFloat64()
	}
	d.value = clamp(d.value, -d.limit, d.limit)
	return d.value
}

// elapsed tracks the last reading time so that drift sees the time between
// reads. A clock that steps backwards yields zero until it has caught up.
type elapsed struct {
	last time.Time
}

func (e *elapsed) since(t time.Time) time.Duration {
	switch {
	case e.last.IsZero():
		e.last = t
		return 0
	case !t.After(e.last):
		return 0
	}
	dt := t.Sub(e.last)
	e.last = t
	return dt
}

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }

// round rounds v to the given number of decimals, the resolution a reading is
// published with.
func round(v float64, decimals int) float64 {
	p := math.Pow10(decimals)
	return math.Round(v*p) / p
}
