package sim

import (
	"math"
	"slices"
	"testing"
	"time"
)

// socDay reads a SoC every second for a day and returns the temperatures.
func socDay(t *testing.T, seed int64) []float64 {
	t.Helper()
	c := newFakeClock(day0)
	s := NewSoC(&Opts{Seed: seed, Now: c.Now})
	var out []float64
	for at := day0; at.Before(day0.Add(24 * time.Hour)); at = at.Add(time.Second) {
		v := readAt(t, s, c, at)
		if len(v) != 1 {
			t.Fatalf("got fields %v, want soc_temperature_c only", v)
		}
		out = append(out, v["soc_temperature_c"])
	}
	return out
}

func TestSoCLooksLikeACPU(t *testing.T) {
	for seed := range int64(3) {
		temps := socDay(t, seed)
		sorted := slices.Sorted(slices.Values(temps))
		median := sorted[len(sorted)/2]
		if median < 42 || median > 55 {
			t.Errorf("seed %d: median %.1f °C, want an idle Pi's 42..55", seed, median)
		}
		if lo, hi := sorted[0], sorted[len(sorted)-1]; lo < 30 || hi > 70 {
			t.Errorf("seed %d: range %.1f..%.1f °C, want within 30..70", seed, lo, hi)
		}
		// Load bursts: some minutes of the day run clearly above the median.
		if p99 := sorted[len(sorted)*99/100]; p99-median < 2 {
			t.Errorf("seed %d: 99th percentile %.1f only %.1f °C above the median, want load bumps", seed, p99, p99-median)
		}
		// Thermal lag: from one second to the next the die moves little.
		var steps []float64
		for i := 1; i < len(temps); i++ {
			steps = append(steps, math.Abs(temps[i]-temps[i-1]))
		}
		slices.Sort(steps)
		if worst := steps[len(steps)-1]; worst > 2 {
			t.Errorf("seed %d: jumped %.1f °C in one second, want a lagging die", seed, worst)
		}
		for _, v := range temps {
			if round(v, 1) != v {
				t.Fatalf("seed %d: %v not rounded to 0.1 °C", seed, v)
			}
		}
	}
}

// Bursts must happen at the same rate whether the SoC is read every second
// or every minute: they are played through in clock time.
func TestSoCBurstsDependOnClockTimeNotReads(t *testing.T) {
	hotShare := func(step time.Duration) float64 {
		hot, n := 0, 0
		for seed := range int64(10) {
			c := newFakeClock(day0)
			s := NewSoC(&Opts{Seed: seed, Now: c.Now})
			for at := day0; at.Before(day0.Add(12 * time.Hour)); at = at.Add(step) {
				c.Set(at)
				if _, err := s.Sense(t.Context()); err != nil {
					t.Fatal(err)
				}
				if s.load.heat > 1 {
					hot++
				}
				n++
			}
		}
		return float64(hot) / float64(n)
	}
	perSecond, perMinute := hotShare(time.Second), hotShare(time.Minute)
	t.Logf("share of time under load: %.3f read every second, %.3f read every minute", perSecond, perMinute)
	if perSecond < 0.05 || math.Abs(perSecond-perMinute) > 0.25*perSecond {
		t.Errorf("share of time under load: %.3f read every second, %.3f read every minute; want about equal and above 0.05",
			perSecond, perMinute)
	}
}
