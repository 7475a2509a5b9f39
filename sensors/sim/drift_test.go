package sim

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// The spread a drift reaches after an hour must not depend on how finely the
// hour was cut: that is what lets a sensor read every second and one read
// every minute trace the same kind of curve.
func TestDriftSpreadIndependentOfStep(t *testing.T) {
	spread := func(step time.Duration) float64 {
		var sum, sumSq float64
		const runs = 400
		for seed := range uint64(runs) {
			r := rand.New(rand.NewPCG(seed, 1))
			d := drift{sigma: 5, relax: 12 * time.Hour, limit: 1e9}
			start := d.advance(r, 0)
			var v float64
			for range time.Hour / step {
				v = d.advance(r, step)
			}
			sum += v - start
			sumSq += (v - start) * (v - start)
		}
		mean := sum / runs
		return math.Sqrt(sumSq/runs - mean*mean)
	}
	// Exact: 5 hPa * sqrt(2*(1-exp(-1/12))) = 1.996 hPa.
	want := 5 * math.Sqrt(2*(1-math.Exp(-1.0/12)))
	for _, step := range []time.Duration{10 * time.Second, time.Minute, time.Hour} {
		if got := spread(step); got < 0.8*want || got > 1.2*want {
			t.Errorf("spread after 1 h in steps of %v = %.3f, want %.3f ± 20%%", step, got, want)
		}
	}
}

func TestDriftStaysWithinLimit(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	d := drift{sigma: 5, relax: time.Minute, limit: 6}
	for range 10000 {
		if v := d.advance(r, time.Hour); math.Abs(v) > 6 {
			t.Fatalf("drift %v beyond its limit 6", v)
		}
	}
}

func TestDriftStandsStillWithoutElapsedTime(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	d := drift{sigma: 5, relax: time.Hour, limit: 15}
	first := d.advance(r, 0)
	for range 100 {
		if v := d.advance(r, 0); v != first {
			t.Fatalf("drift moved from %v to %v with no time elapsed", first, v)
		}
	}
}

func TestElapsedIgnoresClockSteppingBack(t *testing.T) {
	var e elapsed
	if dt := e.since(day0); dt != 0 {
		t.Errorf("first since = %v, want 0", dt)
	}
	if dt := e.since(day0.Add(time.Minute)); dt != time.Minute {
		t.Errorf("since after a minute = %v, want 1m", dt)
	}
	if dt := e.since(day0); dt != 0 {
		t.Errorf("since after stepping back = %v, want 0", dt)
	}
	if dt := e.since(day0.Add(90 * time.Second)); dt != 30*time.Second {
		t.Errorf("since after catching up = %v, want 30s (counted from the latest time seen)", dt)
	}
}
