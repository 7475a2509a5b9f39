package sensors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

type fakeSensor func(ctx context.Context) (Values, error)

func (f fakeSensor) Sense(ctx context.Context) (Values, error) { return f(ctx) }

type collector struct {
	mu       sync.Mutex
	readings []Reading
}

func (c *collector) emit(r Reading) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.readings = append(c.readings, r)
}

func (c *collector) of(name string) []Reading {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Reading
	for _, r := range c.readings {
		if r.Sensor == name {
			out = append(out, r)
		}
	}
	return out
}

// runUntil runs the sources until done reports true or 5 s pass; tests
// call it in a synctest bubble, so the schedules run on its exact clock.
func runUntil(t *testing.T, r *Runner, sources []Source, done func(*collector) bool) *collector {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := &collector{}
	finished := make(chan struct{})
	go func() { r.Run(ctx, sources, c.emit); close(finished) }()
	deadline := time.After(5 * time.Second)
	for !done(c) {
		select {
		case <-deadline:
			cancel()
			<-finished
			t.Fatal("condition not reached within 5s")
		case <-time.After(5 * time.Millisecond):
		}
	}
	cancel()
	select {
	case <-finished:
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	return c
}

func constant(v float64) fakeSensor {
	return func(context.Context) (Values, error) { return Values{"temperature_c": v}, nil }
}

func TestFailingSensorsNeverStopTheOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewRunner(RunnerOpts{})
		hung := make(chan struct{})
		defer close(hung)
		sources := []Source{
			{Name: "good", Sensor: constant(21), Interval: 5 * time.Millisecond, Timeout: time.Second},
			{Name: "broken", Sensor: fakeSensor(func(context.Context) (Values, error) { return nil, errors.New("i2c: NACK at 0x76") }), Interval: 5 * time.Millisecond, Timeout: time.Second},
			{Name: "hung", Sensor: fakeSensor(func(context.Context) (Values, error) { <-hung; return nil, nil }), Interval: 5 * time.Millisecond, Timeout: 10 * time.Millisecond},
			{Name: "panics", Sensor: fakeSensor(func(context.Context) (Values, error) { panic("driver bug") }), Interval: 5 * time.Millisecond, Timeout: time.Second},
		}
		c := runUntil(t, r, sources, func(c *collector) bool { return len(c.of("good")) >= 5 })
		good := c.of("good")
		for i := 1; i < len(good); i++ {
			if gap := good[i].Time.Sub(good[i-1].Time); gap != 5*time.Millisecond {
				t.Errorf("good reading %d came %v after the one before, want its 5ms interval", i, gap)
			}
		}
		for _, name := range []string{"broken", "hung", "panics"} {
			if got := c.of(name); len(got) != 0 {
				t.Errorf("%s emitted %d readings", name, len(got))
			}
		}
		status := map[string]SensorStatus{}
		for _, s := range r.Status() {
			status[s.Name] = s
		}
		if s := status["good"]; s.Failing || s.Errors != 0 || s.LastSuccess.IsZero() {
			t.Errorf("good status = %+v", s)
		}
		wantErr := map[string]string{"broken": "NACK", "hung": "timed out", "panics": "panicked"}
		for name, want := range wantErr {
			s := status[name]
			if !s.Failing || s.Errors == 0 || !strings.Contains(s.LastError, want) {
				t.Errorf("%s status = %+v, want failing with %q", name, s, want)
			}
		}
	})
}

func TestHungReadIsNotPiledOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		release := make(chan struct{})
		s := fakeSensor(func(ctx context.Context) (Values, error) {
			if calls.Add(1) == 1 {
				<-release
			}
			return Values{"x_c": 1}, nil
		})
		r := NewRunner(RunnerOpts{})
		var once sync.Once
		c := runUntil(t, r, []Source{{Name: "s", Sensor: s, Interval: 5 * time.Millisecond, Timeout: 5 * time.Millisecond}}, func(c *collector) bool {
			if st := r.Status(); len(st) == 1 && st[0].Errors >= 3 {
				once.Do(func() {
					if calls.Load() != 1 {
						t.Errorf("driver called %d times while its first read hung", calls.Load())
					}
					close(release)
				})
			}
			return len(c.of("s")) >= 1
		})
		if st := r.Status()[0]; st.Failing || !strings.Contains(st.LastError, "still hung") {
			t.Errorf("status after recovery = %+v", st)
		}
		_ = c
	})
}

func TestImplausibleAndNaNAreFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var nan float64
		nan = nan / nan
		r := NewRunner(RunnerOpts{})
		sources := []Source{
			{Name: "nan", Sensor: constant(nan), Interval: 5 * time.Millisecond, Timeout: time.Second},
			{Name: "ok", Sensor: constant(1), Interval: 5 * time.Millisecond, Timeout: time.Second},
		}
		c := runUntil(t, r, sources, func(c *collector) bool { return len(c.of("ok")) >= 3 })
		if len(c.of("nan")) != 0 {
			t.Error("NaN reading was emitted")
		}
		for _, s := range r.Status() {
			if s.Name == "nan" && !strings.Contains(s.LastError, ErrImplausible.Error()) {
				t.Errorf("nan status = %+v", s)
			}
		}
	})
}

func TestAveragingAndCalibration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int32
		s := fakeSensor(func(context.Context) (Values, error) {
			i := float64(n.Add(1))
			return Values{"temperature_c": i, "humidity_pct": 50}, nil
		})
		r := NewRunner(RunnerOpts{})
		c := runUntil(t, r, []Source{{
			Name: "s", Sensor: s, Interval: time.Millisecond, Timeout: time.Second, Samples: 4,
			Calibrate: map[string]Linear{"temperature_c": {Scale: 2, Offset: -1}},
		}}, func(c *collector) bool { return len(c.of("s")) >= 2 })
		got := c.of("s")
		// Samples 1..4 average to 2.5, then 2*2.5-1 = 4; the next four 5..8 to 6.5 → 12.
		if got[0].Values["temperature_c"] != 4 || got[1].Values["temperature_c"] != 12 {
			t.Errorf("readings = %v, %v", got[0].Values, got[1].Values)
		}
		if got[0].Values["humidity_pct"] != 50 {
			t.Errorf("uncalibrated field changed: %v", got[0].Values)
		}
	})
}

func TestDeadbandAndHeartbeat(t *testing.T) {
	base := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	last := Reading{Time: base, Values: Values{"temperature_c": 20}}
	band := map[string]float64{"temperature_c": 0.5}
	cases := []struct {
		name string
		now  Reading
		want bool
	}{
		{"within band", Reading{Time: base.Add(time.Minute), Values: Values{"temperature_c": 20.4}}, false},
		{"at band", Reading{Time: base.Add(time.Minute), Values: Values{"temperature_c": 19.5}}, true},
		{"heartbeat due", Reading{Time: base.Add(10 * time.Minute), Values: Values{"temperature_c": 20}}, true},
		{"new field", Reading{Time: base.Add(time.Minute), Values: Values{"temperature_c": 20, "humidity_pct": 1}}, true},
	}
	for _, tc := range cases {
		if got := changed(last, tc.now, band, 10*time.Minute); got != tc.want {
			t.Errorf("%s: changed = %v, want %v", tc.name, got, tc.want)
		}
	}
	if !changed(last, last, nil, 0) {
		t.Error("without a deadband every reading must be published")
	}
}

func TestRecoveryIsReported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int32
		s := fakeSensor(func(context.Context) (Values, error) {
			if n.Add(1) <= 3 {
				return nil, errors.New("crc mismatch")
			}
			return Values{"temperature_c": 1}, nil
		})
		r := NewRunner(RunnerOpts{})
		start := time.Now()
		c := runUntil(t, r, []Source{{Name: "s", Sensor: s, Interval: 10 * time.Millisecond, Timeout: time.Second}}, func(c *collector) bool { return len(c.of("s")) >= 1 })
		st := r.Status()[0]
		if st.Failing || st.Errors != 3 {
			t.Errorf("status = %+v", st)
		}
		// The backoff starts at a tenth of the interval and doubles:
		// retries after 1, 2 and 4 ms. The first reading tells, not
		// LastSuccess: the read at 10 ms may come before runUntil stops.
		if after := c.of("s")[0].Time.Sub(start); after != 7*time.Millisecond {
			t.Errorf("recovered %v after the first read, want 7ms (backoff 1+2+4 ms)", after)
		}
	})
}

func TestLazyOpensWhenTheDeviceAppears(t *testing.T) {
	var attempts atomic.Int32
	s := Lazy(func(context.Context) (Sensor, error) {
		if attempts.Add(1) < 3 {
			return nil, errors.New("no device at 0x76")
		}
		return constant(5), nil
	})
	for i := range 2 {
		if _, err := s.Sense(context.Background()); err == nil || !strings.Contains(err.Error(), "open: no device") {
			t.Fatalf("read %d: err = %v", i, err)
		}
	}
	for range 2 {
		if v, err := s.Sense(context.Background()); err != nil || v["temperature_c"] != 5 {
			t.Fatalf("after the device appeared: %v %v", v, err)
		}
	}
	if attempts.Load() != 3 {
		t.Errorf("opened %d times, want 3", attempts.Load())
	}
}

// spacedSensor needs spacing between reads and counts a read that comes
// too soon, as a chip with its own measurement schedule would give an old
// or minimum value then.
type spacedSensor struct {
	spacing time.Duration
	warmUp  int // reads that return ErrWarmingUp first

	mu     sync.Mutex
	reads  []time.Time
	tooFew int
}

func (s *spacedSensor) Spacing() time.Duration { return s.spacing }

func (s *spacedSensor) Sense(context.Context) (Values, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if n := len(s.reads); n > 0 && now.Sub(s.reads[n-1]) < s.spacing {
		s.tooFew++
	}
	s.reads = append(s.reads, now)
	if len(s.reads) <= s.warmUp {
		return nil, fmt.Errorf("first measurement not ready: %w", ErrWarmingUp)
	}
	return Values{"co2_ppm": 500}, nil
}

// Samples of one reading are spaced by the sensor's Spacing, and reads in
// the warm-up are neither failures nor readings.
func TestSamplesAreSpacedAndWarmUpIsNoFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &spacedSensor{spacing: 5 * time.Second, warmUp: 3}
		r := NewRunner(RunnerOpts{})
		ctx, cancel := context.WithCancel(t.Context())
		c := &collector{}
		done := make(chan struct{})
		go func() {
			r.Run(ctx, []Source{{Name: "co2", Sensor: s, Interval: 30 * time.Second, Timeout: 2 * time.Second, Samples: 3}}, c.emit)
			close(done)
		}()
		time.Sleep(2 * time.Minute)
		cancel()
		<-done
		if s.tooFew != 0 {
			t.Errorf("%d reads came sooner than the sensor's 5 s spacing", s.tooFew)
		}
		if st := r.Status()[0]; st.Errors != 0 || st.Failing {
			t.Errorf("status %+v: the warm-up counted as a failure", st)
		}
		if got := c.of("co2"); len(got) < 3 {
			t.Errorf("%d readings in 2 minutes at a 30 s interval", len(got))
		}
	})
}

// ReadOnce waits out a warm-up and returns the first real reading.
func TestReadOnceWaitsOutTheWarmUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &spacedSensor{spacing: time.Second, warmUp: 15}
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		start := time.Now()
		got, err := NewRunner(RunnerOpts{}).ReadOnce(ctx, Source{Name: "air", Sensor: s, Interval: time.Second, Timeout: 100 * time.Millisecond, Samples: 1})
		if err != nil || got.Values["co2_ppm"] != 500 {
			t.Fatalf("ReadOnce = %+v, %v", got, err)
		}
		if waited := time.Since(start); waited != 15*time.Second {
			t.Errorf("ReadOnce took %v, want the 15 one-second retries of the warm-up", waited)
		}
	})
}

// A sensor that keeps failing is logged once, then as "still failing" at
// most once a minute (ErrorLogEvery), with the count and the last error.
func TestFailingSensorLogIsRateLimited(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs strings.Builder
		var mu sync.Mutex
		logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
			mu.Lock()
			defer mu.Unlock()
			return logs.Write(p)
		}), nil))
		r := NewRunner(RunnerOpts{Logger: logger})
		broken := fakeSensor(func(context.Context) (Values, error) { return nil, errors.New("i2c: NACK at 0x76") })
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute+30*time.Second)
		defer cancel()
		r.Run(ctx, []Source{{Name: "attic", Sensor: broken, Interval: time.Second, Timeout: 100 * time.Millisecond}}, func(Reading) {})
		mu.Lock()
		defer mu.Unlock()
		lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
		if len(lines) != 4 || !strings.Contains(lines[0], "sensor read failed") {
			t.Fatalf("want the first failure and 3 reminders in 3.5 minutes, got %d lines:\n%s", len(lines), logs.String())
		}
		for _, l := range lines[1:] {
			if !strings.Contains(l, "sensor still failing (") || !strings.Contains(l, "attempts, last error: i2c: NACK at 0x76)") {
				t.Errorf("reminder %q", l)
			}
		}
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// Sensors with the same interval are read at the same instants, one
// wake-up per round, however long each read takes and whichever failed
// before; a read that overruns its interval skips to the next round.
func TestSchedulesShareOneGrid(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		var mu sync.Mutex
		starts := map[string][]time.Duration{}
		sensor := func(name string, took func(n int) time.Duration, fail func(n int) bool) fakeSensor {
			return func(context.Context) (Values, error) {
				mu.Lock()
				n := len(starts[name])
				starts[name] = append(starts[name], time.Since(start))
				mu.Unlock()
				time.Sleep(took(n))
				if fail(n) {
					return nil, errors.New("i2c: NACK at 0x44")
				}
				return Values{"x": 1}, nil
			}
		}
		never := func(int) bool { return false }
		sources := []Source{
			{Name: "fast", Sensor: sensor("fast", func(int) time.Duration { return time.Millisecond }, never)},
			{Name: "slow", Sensor: sensor("slow", func(int) time.Duration { return 300 * time.Millisecond }, never)},
			// Fails twice (retried after 100 ms and 200 ms), then back on the grid.
			{Name: "flaky", Sensor: sensor("flaky", func(int) time.Duration { return 0 }, func(n int) bool { return n < 2 })},
			// Its second read overruns the interval: the third starts at 3 s.
			{Name: "stuck", Sensor: sensor("stuck", func(n int) time.Duration {
				if n == 1 {
					return 1500 * time.Millisecond
				}
				return 0
			}, never)},
		}
		for i := range sources {
			sources[i].Interval, sources[i].Timeout = time.Second, 2*time.Second
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			NewRunner(RunnerOpts{}).Run(ctx, sources, func(Reading) {})
			close(done)
		}()
		time.Sleep(4*time.Second + 500*time.Millisecond)
		cancel()
		<-done
		s := time.Second
		want := map[string][]time.Duration{
			"fast":  {0, s, 2 * s, 3 * s, 4 * s},
			"slow":  {0, s, 2 * s, 3 * s, 4 * s},
			"flaky": {0, 100 * time.Millisecond, 300 * time.Millisecond, s, 2 * s, 3 * s, 4 * s},
			"stuck": {0, s, 3 * s, 4 * s},
		}
		for name, w := range want {
			if got := starts[name]; !slices.Equal(got, w) {
				t.Errorf("%s read at %v, want %v", name, got, w)
			}
		}
	})
}
