package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgepub/edgepub/config"
	"github.com/edgepub/edgepub/internal/daemon"
	"github.com/edgepub/edgepub/sensors"
	"github.com/edgepub/edgepub/sensors/sim"
)

// deviceOpts is how every simulated device is configured.
type deviceOpts struct {
	BrokerURL              string
	Interval               time.Duration
	StartJitter            time.Duration
	BackoffMin, BackoffMax time.Duration
	KeepAlive              time.Duration
	HealthInterval         time.Duration
	// CertPoll, if set, replaces each daemon's inotify watch of its
	// certificate files (daemon.Opts.CertPoll).
	CertPoll time.Duration
}

// fleet is N real daemons in this process.
type fleet struct {
	devices []*device
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	logs    *logCounter
	// workers run further devices in child processes (-procs).
	workers []*worker
}

type device struct {
	id     identity
	daemon atomic.Pointer[daemon.Daemon]
	err    atomic.Value // error from Run
}

// deviceConfig is config.Default with the simulated device's own files
// and the fleet's timings; only 127.0.0.1 is ever dialled.
func deviceConfig(id identity, o deviceOpts) (config.Config, error) {
	u, err := url.Parse(o.BrokerURL)
	if err != nil || u.Hostname() != "127.0.0.1" {
		return config.Config{}, fmt.Errorf("broker %q: the fleet runs on 127.0.0.1 only", o.BrokerURL)
	}
	cfg := config.Default()
	cfg.Broker.URLs = []string{o.BrokerURL}
	cfg.Broker.StartJitter = config.Duration(o.StartJitter)
	cfg.Broker.BackoffMin = config.Duration(o.BackoffMin)
	cfg.Broker.BackoffMax = config.Duration(o.BackoffMax)
	cfg.Broker.KeepAlive = config.Duration(o.KeepAlive)
	cfg.Certs.Dir = id.CertDir
	cfg.StateDir = id.StateDir
	cfg.Presence.HealthInterval = config.Duration(o.HealthInterval)
	cfg.Sensors = []config.Sensor{{
		Name: "environment", Type: "sim-bme280", Samples: 1,
		Interval: config.Duration(o.Interval), Timeout: config.Duration(min(2*time.Second, o.Interval/2)),
	}}
	return cfg, cfg.Validate()
}

// startFleet runs one daemon per identity, each with its own simulated
// BME280 (seeded by its index) and its own state directory.
func startFleet(ids []identity, o deviceOpts, logs *logCounter) (*fleet, error) {
	ctx, cancel := context.WithCancel(context.Background())
	f := &fleet{cancel: cancel, logs: logs}
	logger := slog.New(logs)
	for i, id := range ids {
		cfg, err := deviceConfig(id, o)
		if err != nil {
			cancel()
			return nil, err
		}
		dev := &device{id: id}
		f.devices = append(f.devices, dev)
		seed := int64(i + 1)
		f.wg.Go(func() {
			err := daemon.Run(ctx, daemon.Opts{
				Config: cfg,
				Logger: logger,
				OpenSensor: func(context.Context, config.Sensor) (sensors.Sensor, error) {
					return sim.NewBME280(&sim.Opts{Seed: seed}), nil
				},
				Version:  "fleet-bench",
				CertPoll: o.CertPoll,
				Ready:    func(d *daemon.Daemon) { dev.daemon.Store(d) },
			})
			if err != nil {
				dev.err.Store(err)
			}
		})
	}
	return f, nil
}

// count reports how many devices are running and how many of those are
// connected and have an empty backlog, plus the total backlog.
func (f *fleet) count() (ready, connected, drained, backlog int, err error) {
	for _, dev := range f.devices {
		if e, ok := dev.err.Load().(error); ok {
			return 0, 0, 0, 0, fmt.Errorf("device %s: %w", dev.id.Name, e)
		}
		d := dev.daemon.Load()
		if d == nil {
			continue
		}
		ready++
		h := d.Health()
		if h.Connected {
			connected++
		}
		if h.Backlog == 0 {
			drained++
		}
		backlog += h.Backlog
	}
	for _, w := range f.workers {
		c, err := w.status()
		if err != nil {
			return 0, 0, 0, 0, err
		}
		ready, connected, drained, backlog = ready+c.ready, connected+c.connected, drained+c.drained, backlog+c.backlog
	}
	return ready, connected, drained, backlog, nil
}

// size is the number of devices, the workers' included.
func (f *fleet) size() int {
	n := len(f.devices)
	for _, w := range f.workers {
		n += w.n
	}
	return n
}

// waitFor polls the fleet until cond holds or ctx ends and returns how
// long it took.
func (f *fleet) waitFor(ctx context.Context, what string, every time.Duration, cond func(ready, connected, drained int) bool) (time.Duration, error) {
	start := time.Now()
	for {
		ready, connected, drained, backlog, err := f.count()
		if err != nil {
			return 0, err
		}
		if cond(ready, connected, drained) {
			return time.Since(start), nil
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("%s: not reached (%d ready, %d connected, %d drained, backlog %d): %w", what, ready, connected, drained, backlog, ctx.Err())
		case <-time.After(every):
		}
	}
}

// waitAllConnected polls until every device is connected and returns, for
// each of this process's devices, how long after start it was first seen
// connected, and when the workers' devices were all connected.
func (f *fleet) waitAllConnected(ctx context.Context, start time.Time, every time.Duration) ([]time.Duration, time.Duration, error) {
	seen := make([]time.Duration, len(f.devices))
	left := len(f.devices)
	var workersBack time.Duration
	workersLeft := func() int {
		n := 0
		for _, w := range f.workers {
			c, _ := w.status()
			n += w.n - c.connected
		}
		return n
	}
	for left > 0 || workersBack == 0 {
		if workersBack == 0 && workersLeft() == 0 {
			workersBack = max(time.Since(start), time.Nanosecond)
		}
		for i, dev := range f.devices {
			if seen[i] != 0 {
				continue
			}
			if d := dev.daemon.Load(); d != nil && d.Health().Connected {
				seen[i] = max(time.Since(start), time.Nanosecond)
				left--
			}
		}
		if left == 0 && workersBack != 0 {
			break
		}
		select {
		case <-ctx.Done():
			return nil, 0, fmt.Errorf("%d of %d devices not connected: %w", left+workersLeft(), f.size(), ctx.Err())
		case <-time.After(every):
		}
	}
	return seen, workersBack, nil
}

// stop ends every daemon cleanly and waits for them.
func (f *fleet) stop(timeout time.Duration) error {
	for _, w := range f.workers {
		if _, err := w.ask("stop", timeout); err != nil {
			return err
		}
	}
	f.workers = nil
	f.cancel()
	done := make(chan struct{})
	go func() { f.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("the daemons did not stop within %v", timeout)
	}
}

// logCounter is the daemons' log handler: it counts warnings and errors by
// message and, with verbose, prints them.
type logCounter struct {
	verbose bool
	mu      sync.Mutex
	counts  map[string]int
}

func newLogCounter(verbose bool) *logCounter {
	return &logCounter{verbose: verbose, counts: map[string]int{}}
}

func (l *logCounter) Enabled(_ context.Context, level slog.Level) bool {
	return level >= slog.LevelWarn
}

func (l *logCounter) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.counts[r.Level.String()+" "+r.Message]++
	if l.verbose {
		fmt.Printf("  [device log] %s %s\n", r.Level, r.Message)
	}
	return nil
}

func (l *logCounter) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logCounter) WithGroup(string) slog.Handler      { return l }

// summary lists the counted messages, most frequent first.
func (l *logCounter) summary() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for msg, n := range l.counts {
		out = append(out, fmt.Sprintf("%6d × %s", n, msg))
	}
	sort.Sort(sort.Reverse(sort.StringSlice(out)))
	return out
}
