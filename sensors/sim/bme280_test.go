package sim

import (
	"context"
	"errors"
	"math"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/edgepub/edgepub/sensors"
)

// readAt reads s once with its clock set to at.
func readAt(t *testing.T, s sensors.Sensor, c *fakeClock, at time.Time) sensors.Values {
	t.Helper()
	c.Set(at)
	v, err := s.Sense(context.Background())
	if err != nil {
		t.Fatalf("Sense at %v: %v", at, err)
	}
	return v
}

// irregularTimes are read times with gaps from a second to several hours,
// including a clock that steps back.
func irregularTimes() []time.Time {
	gaps := []time.Duration{0, time.Second, 10 * time.Second, time.Minute, 7 * time.Hour,
		-30 * time.Second, 2 * time.Second, 15 * time.Minute, 25 * time.Hour}
	var out []time.Time
	at := day0.Add(4 * time.Hour)
	for range 5 {
		for _, g := range gaps {
			at = at.Add(g)
			out = append(out, at)
		}
	}
	return out
}

func senseAll(t *testing.T, newSensor func(*Opts) sensors.Sensor, seed int64) []sensors.Values {
	t.Helper()
	c := newFakeClock(day0)
	s := newSensor(&Opts{Seed: seed, Now: c.Now})
	var out []sensors.Values
	for _, at := range irregularTimes() {
		out = append(out, readAt(t, s, c, at))
	}
	return out
}

func newBME280Sensor(o *Opts) sensors.Sensor { return NewBME280(o) }
func newSoCSensor(o *Opts) sensors.Sensor    { return NewSoC(o) }

func TestSameSeedSameValues(t *testing.T) {
	for name, newSensor := range map[string]func(*Opts) sensors.Sensor{"BME280": newBME280Sensor, "SoC": newSoCSensor} {
		t.Run(name, func(t *testing.T) {
			a, b := senseAll(t, newSensor, 42), senseAll(t, newSensor, 42)
			if !reflect.DeepEqual(a, b) {
				t.Errorf("two sensors with seed 42 read at the same times differ:\n%v\n%v", a, b)
			}
		})
	}
}

func TestDifferentSeedsDiffer(t *testing.T) {
	for name, newSensor := range map[string]func(*Opts) sensors.Sensor{"BME280": newBME280Sensor, "SoC": newSoCSensor} {
		t.Run(name, func(t *testing.T) {
			a, b := senseAll(t, newSensor, 1), senseAll(t, newSensor, 2)
			same := 0
			for i := range a {
				if reflect.DeepEqual(a[i], b[i]) {
					same++
				}
			}
			if same > len(a)/10 {
				t.Errorf("seeds 1 and 2 gave the same values in %d of %d reads", same, len(a))
			}
		})
	}
}

func TestBME280WarmerAfternoonThanEarlyMorning(t *testing.T) {
	const seeds = 50
	var morning, afternoon float64
	for seed := range int64(seeds) {
		c := newFakeClock(day0)
		s := NewBME280(&Opts{Seed: seed, Now: c.Now})
		morning += readAt(t, s, c, day0.Add(5*time.Hour))["temperature_c"]
		afternoon += readAt(t, s, c, day0.Add(15*time.Hour))["temperature_c"]
	}
	morning /= seeds
	afternoon /= seeds
	// The curve alone makes 6 °C; drift of σ 1 °C averages out over 50 seeds.
	if diff := afternoon - morning; diff < 4 || diff > 8 {
		t.Errorf("mean 15:00 - mean 05:00 = %.2f °C (%.2f - %.2f), want about 6", diff, afternoon, morning)
	}
}

func TestBME280DailyCurveFollowsLocation(t *testing.T) {
	// 05:00 UTC is 15:00 at UTC+10, so with that Location the reading is warm.
	plus10 := time.FixedZone("UTC+10", 10*3600)
	const seeds = 50
	var utc, shifted float64
	for seed := range int64(seeds) {
		c := newFakeClock(day0)
		utc += readAt(t, NewBME280(&Opts{Seed: seed, Now: c.Now}), c, day0.Add(5*time.Hour))["temperature_c"]
		shifted += readAt(t, NewBME280(&Opts{Seed: seed, Now: c.Now, Location: plus10}), c, day0.Add(5*time.Hour))["temperature_c"]
	}
	if diff := (shifted - utc) / seeds; diff < 4 {
		t.Errorf("reading at 05:00 UTC is only %.2f °C warmer with Location UTC+10, want about 6", diff)
	}
}

func pearson(x, y []float64) float64 {
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx /= float64(len(x))
	my /= float64(len(y))
	var sxy, sxx, syy float64
	for i := range x {
		sxy += (x[i] - mx) * (y[i] - my)
		sxx += (x[i] - mx) * (x[i] - mx)
		syy += (y[i] - my) * (y[i] - my)
	}
	return sxy / math.Sqrt(sxx*syy)
}

func TestBME280HumidityFallsAsTemperatureRises(t *testing.T) {
	// The dew point drifts on its own, so on some days the link is weaker;
	// it must still be negative every day and strong on a typical one.
	var rs []float64
	for seed := range int64(21) {
		c := newFakeClock(day0)
		s := NewBME280(&Opts{Seed: seed, Now: c.Now})
		var temps, hums []float64
		for at := day0; at.Before(day0.Add(24 * time.Hour)); at = at.Add(5 * time.Minute) {
			v := readAt(t, s, c, at)
			temps = append(temps, v["temperature_c"])
			hums = append(hums, v["humidity_pct"])
		}
		r := pearson(temps, hums)
		if r >= 0 {
			t.Errorf("seed %d: correlation of temperature and humidity over a day = %.2f, want negative", seed, r)
		}
		rs = append(rs, r)
	}
	slices.Sort(rs)
	if median := rs[len(rs)/2]; median > -0.7 {
		t.Errorf("median correlation of temperature and humidity over a day = %.2f, want below -0.7", median)
	}
}

func TestBME280ValuesPhysical(t *testing.T) {
	for seed := range int64(20) {
		c := newFakeClock(day0)
		s := NewBME280(&Opts{Seed: seed, Now: c.Now})
		for at := day0; at.Before(day0.Add(7 * 24 * time.Hour)); at = at.Add(10 * time.Minute) {
			v := readAt(t, s, c, at)
			if len(v) != 3 {
				t.Fatalf("got fields %v, want temperature_c, humidity_pct, pressure_hpa", v)
			}
			check := func(field string, lo, hi float64, decimals int) {
				x, ok := v[field]
				if !ok {
					t.Fatalf("seed %d at %v: no %s in %v", seed, at, field, v)
				}
				if x < lo || x > hi {
					t.Fatalf("seed %d at %v: %s = %v, want %v..%v", seed, at, field, x, lo, hi)
				}
				if r := round(x, decimals); r != x {
					t.Fatalf("seed %d at %v: %s = %v not rounded to %d decimals", seed, at, field, x, decimals)
				}
			}
			check("temperature_c", 12, 30, 2)
			check("humidity_pct", 0, 100, 1)
			check("pressure_hpa", 990, 1035, 2)
		}
	}
}

// Reading many times at one clock time must not move the drift: only elapsed
// time does.
func TestBME280DriftNeedsElapsedTime(t *testing.T) {
	c := newFakeClock(day0.Add(9 * time.Hour))
	s := NewBME280(&Opts{Seed: 3, Now: c.Now})
	first := readAt(t, s, c, c.Now())
	for range 1000 {
		v := readAt(t, s, c, c.Now())
		if d := math.Abs(v["pressure_hpa"] - first["pressure_hpa"]); d > 0.2 {
			t.Fatalf("pressure moved %.2f hPa in 1000 reads at one clock time, want noise only", d)
		}
		if d := math.Abs(v["temperature_c"] - first["temperature_c"]); d > 0.2 {
			t.Fatalf("temperature moved %.2f °C in 1000 reads at one clock time, want noise only", d)
		}
	}
	// Whereas half a day of weather moves the pressure by hPa, on average.
	var moved float64
	for seed := range int64(50) {
		c := newFakeClock(day0)
		s := NewBME280(&Opts{Seed: seed, Now: c.Now})
		a := readAt(t, s, c, day0)["pressure_hpa"]
		b := readAt(t, s, c, day0.Add(12*time.Hour))["pressure_hpa"]
		moved += math.Abs(b-a) / 50
	}
	if moved < 2 {
		t.Errorf("pressure moved %.2f hPa on average over 12 h, want weather-like hPa", moved)
	}
}

func TestSenseHonoursCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for name, s := range map[string]sensors.Sensor{"BME280": NewBME280(nil), "SoC": NewSoC(nil)} {
		v, err := s.Sense(ctx)
		if !errors.Is(err, context.Canceled) || v != nil {
			t.Errorf("%s: Sense on a cancelled context = %v, %v; want nil, context.Canceled", name, v, err)
		}
	}
}

func TestSenseConcurrently(t *testing.T) {
	c := newFakeClock(day0)
	for name, s := range map[string]sensors.Sensor{
		"BME280": NewBME280(&Opts{Seed: 9, Now: c.Now}),
		"SoC":    NewSoC(&Opts{Seed: 9, Now: c.Now}),
	} {
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 200 {
					c.Advance(time.Second)
					if _, err := s.Sense(context.Background()); err != nil {
						t.Errorf("%s: %v", name, err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
}

func TestNilOptsUsesSystemClock(t *testing.T) {
	v, err := NewBME280(nil).Sense(context.Background())
	if err != nil || len(v) != 3 {
		t.Errorf("NewBME280(nil).Sense = %v, %v", v, err)
	}
}
