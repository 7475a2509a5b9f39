package sensors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/edgepub/edgepub/internal/logging"
)

// Source is one sensor as the Runner schedules it.
type Source struct {
	// Name is the configured name; it goes into every Reading.
	Name   string
	Sensor Sensor
	// Interval between reads; Timeout bounds one read.
	Interval, Timeout time.Duration
	// Samples > 1 averages that many reads into one Reading, spaced by the
	// sensor's Spacing if it is Spaced.
	Samples int
	// Calibrate corrects fields after averaging.
	Calibrate map[string]Linear
	// Deadband and Heartbeat suppress readings that did not change: a
	// reading is emitted when any field with a deadband moved by at least
	// its band since the last emitted reading, when a field appears or
	// disappears, or when Heartbeat passed since the last emitted one.
	Deadband  map[string]float64
	Heartbeat time.Duration
}

// Linear is value*Scale + Offset.
type Linear struct{ Scale, Offset float64 }

// RunnerOpts configures a Runner.
type RunnerOpts struct {
	Logger *slog.Logger
	// Taken gives a reading's Time and SinceBoot; nil means time.Now and 0.
	// Schedules follow time.Now, whatever Taken says.
	Taken func() (wall time.Time, sinceBoot time.Duration)
	// ErrorLogEvery rate-limits the log of a failing sensor: its first
	// failure and then at most one record per this period (default 1m).
	ErrorLogEvery time.Duration
}

// Runner reads every Source on its own schedule and hands the readings on.
// A sensor that fails, hangs or panics is logged, retried with backoff and
// reported in Status; the others go on.
type Runner struct {
	opts RunnerOpts

	mu     sync.Mutex
	status map[string]*SensorStatus
}

// SensorStatus is the health of one sensor, for the device status.
type SensorStatus struct {
	Name        string    `json:"name"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	Errors      uint64    `json:"errors"`
	Failing     bool      `json:"failing"`
}

// NewRunner returns a Runner; nil opts fields get defaults.
func NewRunner(opts RunnerOpts) *Runner {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ErrorLogEvery == 0 {
		opts.ErrorLogEvery = time.Minute
	}
	if opts.Taken == nil {
		opts.Taken = func() (time.Time, time.Duration) { return time.Now(), 0 }
	}
	return &Runner{opts: opts, status: map[string]*SensorStatus{}}
}

// Run reads all sources until ctx is done, calling emit for each reading
// from the sensor's own goroutine (emit must be safe for concurrent use).
func (r *Runner) Run(ctx context.Context, sources []Source, emit func(Reading)) error {
	var wg sync.WaitGroup
	// All schedules count from the same instant, so sensors with the same
	// interval (or multiples) are read together: one wake-up of the
	// process per round instead of one per sensor.
	epoch := time.Now()
	for i, src := range sources {
		r.mu.Lock()
		r.status[src.Name] = &SensorStatus{Name: src.Name}
		r.mu.Unlock()
		if i == len(sources)-1 {
			// The last sensor is read on this goroutine, which would
			// otherwise only wait: one goroutine stack less.
			r.loop(ctx, src, epoch, emit)
			break
		}
		wg.Go(func() { r.loop(ctx, src, epoch, emit) })
	}
	wg.Wait()
	return nil
}

// Status returns each sensor's health, sorted by name.
func (r *Runner) Status() []SensorStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]SensorStatus, 0, len(r.status))
	for _, s := range r.status {
		out = append(out, *s)
	}
	sortStatus(out)
	return out
}

func sortStatus(s []SensorStatus) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j].Name < s[j-1].Name; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// loop is one sensor's schedule: reads start at epoch + k×Interval (a read
// that overran its interval skips to the next one). After a failure the next attempt comes
// after a backoff that starts at a tenth of the interval (or the sensor's
// spacing, if longer) and doubles up to the interval, so a sensor that comes
// back is picked up quickly but a dead one does not flood the bus. A read in
// the sensor's warm-up is retried after that first step, or when the sensor
// said it will be ready if sooner (WarmingUp), without counting a failure.
func (r *Runner) loop(ctx context.Context, src Source, epoch time.Time, emit func(Reading)) {
	log := r.opts.Logger.With("sensor", src.Name)
	var (
		reader   = &hangGuard{sensor: src.Sensor}
		last     *Reading
		backoff  time.Duration
		failures int
		lastLog  time.Time
		warming  bool
	)
	wait := time.Duration(0)
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		start := time.Now()
		values, wall, sinceBoot, err := r.sample(ctx, reader, src)
		if ctx.Err() != nil {
			return
		}
		retry := max(src.Interval/10, spacingOf(src.Sensor))
		if errors.Is(err, ErrWarmingUp) {
			if !warming {
				log.Info("sensor warming up; no reading until it is done", "detail", err)
				warming = true
			}
			wait = retryAfterWarmUp(err, retry-time.Since(start))
			continue
		}
		warming = false
		if err != nil {
			failures++
			r.recordFailure(src.Name, err)
			switch now := time.Now(); {
			case failures == 1:
				log.Warn("sensor read failed; retrying", "error", err, "failures", failures, logging.MessageID(logging.MsgSensorFailing))
				lastLog = now
			case now.Sub(lastLog) >= r.opts.ErrorLogEvery:
				log.Warn(fmt.Sprintf("sensor still failing (%d attempts, last error: %v)", failures, err), "error", err, "failures", failures, logging.MessageID(logging.MsgSensorFailing))
				lastLog = now
			}
			backoff = min(max(2*backoff, retry), src.Interval)
			wait = backoff - time.Now().Sub(start)
			continue
		}
		if failures > 0 {
			log.Info("sensor recovered", "failures", failures, logging.MessageID(logging.MsgSensorRecovered))
		}
		failures, backoff = 0, 0
		r.recordSuccess(src.Name, start)
		reading := Reading{Sensor: src.Name, Time: wall.UTC(), SinceBoot: sinceBoot, Values: calibrate(values, src.Calibrate)}
		if last == nil || changed(*last, reading, src.Deadband, src.Heartbeat) {
			emit(reading)
			last = &reading
		}
		wait = untilNext(time.Since(epoch), src.Interval)
	}
}

// untilNext is the wait from elapsed to the next multiple of interval.
func untilNext(elapsed, interval time.Duration) time.Duration {
	if interval <= 0 {
		return 0
	}
	return interval - elapsed%interval
}

// ReadOnce reads src once as Run would, samples, warm-up and calibration
// included, but without deadband: it waits out a warm-up until ctx is done.
func (r *Runner) ReadOnce(ctx context.Context, src Source) (Reading, error) {
	reader := &hangGuard{sensor: src.Sensor}
	for {
		start := time.Now()
		values, wall, sinceBoot, err := r.sample(ctx, reader, src)
		if err == nil {
			return Reading{Sensor: src.Name, Time: wall.UTC(), SinceBoot: sinceBoot, Values: calibrate(values, src.Calibrate)}, nil
		}
		if !errors.Is(err, ErrWarmingUp) || ctx.Err() != nil {
			return Reading{}, err
		}
		select {
		case <-ctx.Done():
			return Reading{}, fmt.Errorf("%w (%w)", ctx.Err(), err)
		case <-time.After(retryAfterWarmUp(err, max(src.Interval/10, spacingOf(src.Sensor))-time.Since(start))):
		}
	}
}

// sample reads Samples times, each read at least the sensor's spacing after
// the end of the one before, and averages each field; a field missing from
// some samples is averaged over the samples that had it. The reading is
// stamped (Taken) on the reading goroutine right before the first Sense, so
// a busy scheduler does not make its time early.
func (r *Runner) sample(ctx context.Context, reader *hangGuard, src Source) (Values, time.Time, time.Duration, error) {
	n := max(src.Samples, 1)
	sums, counts := Values{}, map[string]int{}
	var prev time.Time
	// Written by the first read's goroutine; read only once that read has
	// returned, never after a failure (its goroutine may still run).
	var wall time.Time
	var sinceBoot time.Duration
	stamp := func() { wall, sinceBoot = r.opts.Taken() }
	for i := range n {
		if i > 0 {
			stamp = nil
			select {
			case <-ctx.Done():
				return nil, time.Time{}, 0, ctx.Err()
			case <-time.After(spacingOf(src.Sensor) - time.Now().Sub(prev)):
			}
		}
		v, err := reader.sense(ctx, src.Timeout, stamp)
		if err != nil {
			return nil, time.Time{}, 0, err
		}
		// From the end of a read: the first one may have opened the
		// sensor, and a chip hands out its result at the end.
		prev = time.Now()
		for k, x := range v {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, time.Time{}, 0, fmt.Errorf("field %s is %v: %w", k, x, ErrImplausible)
			}
			sums[k] += x
			counts[k]++
		}
	}
	if len(sums) == 0 {
		return nil, time.Time{}, 0, errors.New("the sensor returned no values")
	}
	for k := range sums {
		sums[k] /= float64(counts[k])
	}
	return sums, wall, sinceBoot, nil
}

func calibrate(v Values, cal map[string]Linear) Values {
	for k, c := range cal {
		if x, ok := v[k]; ok {
			v[k] = x*c.Scale + c.Offset
		}
	}
	return v
}

func changed(last, now Reading, deadband map[string]float64, heartbeat time.Duration) bool {
	if len(deadband) == 0 || (heartbeat > 0 && now.Time.Sub(last.Time) >= heartbeat) || len(last.Values) != len(now.Values) {
		return true
	}
	for k, x := range now.Values {
		prev, ok := last.Values[k]
		if !ok {
			return true
		}
		band, has := deadband[k]
		if has && math.Abs(x-prev) >= band {
			return true
		}
	}
	return false
}

func (r *Runner) recordFailure(name string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.status[name]
	s.Errors++
	s.LastError = err.Error()
	s.Failing = true
}

func (r *Runner) recordSuccess(name string, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.status[name]
	s.LastSuccess = at
	s.Failing = false
}
