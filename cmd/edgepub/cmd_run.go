package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"

	"github.com/edgepub/edgepub/config"
	"github.com/edgepub/edgepub/internal/buildinfo"
	"github.com/edgepub/edgepub/internal/daemon"
	"github.com/edgepub/edgepub/internal/logging"
	"github.com/edgepub/edgepub/internal/sdnotify"
	"github.com/edgepub/edgepub/sensors"
	"github.com/edgepub/edgepub/sensors/catalog"
)

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("run", "[flags]", "Read the sensors and publish their readings; runs until SIGINT or SIGTERM, reloads certificates on SIGHUP.", stderr)
	var cf configFlags
	cf.register(fs)
	stallAfter := fs.Duration("debug-stall-after", 0, testOnly+"stop the main loop after this time, so the systemd watchdog must restart the service")
	if help, err := parseFlags(fs, args, stdout); help || err != nil {
		return err
	}
	cfg, err := cf.load()
	if err != nil {
		return err
	}
	if _, set := os.LookupEnv("GOGC"); !set {
		// The live heap is about 2 MiB; Go's default lets it double before
		// each collection. 25 saves 2 MiB of RSS at no measurable CPU cost
		// at sensor rates (BENCHMARKS.md, steady-state footprint).
		debug.SetGCPercent(25)
	}
	if _, set := os.LookupEnv("GOMAXPROCS"); !set {
		// At sensor rates the daemon works a few ms a second; with more
		// than one P each reading woke a second thread that then found
		// nothing to do: 159 → 57 wake-ups/s and 0.37 → 0.15 % CPU
		// (BENCHMARKS.md, issue 16).
		runtime.GOMAXPROCS(1)
	}
	level, _ := cfg.Log.SlogLevel() // validated
	logger := logging.New(logging.Opts{Level: level, Stderr: stderr})
	if cf.stateDirNote != "" {
		logger.Info(cf.stateDirNote, "state_dir", cfg.StateDir)
	}
	var notifier daemon.Notifier = sdnotify.New(logger)
	if len(cf.brokers) == 0 && slices.Equal(cfg.Broker.URLs, []string{config.DefaultBroker}) {
		// A fresh install: say so, rather than retry an address nobody
		// chose without a word.
		logger.Warn("broker not configured: using the tutorial's default "+config.DefaultBroker, "fix", "set broker.urls in "+configFile(cf.path))
		notifier = defaultBrokerNotifier{notifier}
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := make(chan struct{}, 1)
	go forwardSignals(ctx, hup, reload)

	return runDaemon(ctx, daemon.Opts{
		Config:     cfg,
		Logger:     logger,
		Notifier:   notifier,
		Reload:     reload,
		StallAfter: *stallAfter,
	})
}

// runDaemon is the start-up that run and demo share: the host's buses for
// the sensors, and the daemon until ctx ends.
func runDaemon(ctx context.Context, opts daemon.Opts) error {
	buses := catalog.NewHostBuses()
	defer buses.Close()
	opts.OpenSensor = func(ctx context.Context, spec config.Sensor) (sensors.Sensor, error) {
		return catalog.Open(ctx, spec, buses)
	}
	opts.Version = buildinfo.Version
	return daemon.Run(ctx, opts)
}

// defaultBrokerNotifier says in the status line that the broker it cannot
// reach is only the tutorial's default.
type defaultBrokerNotifier struct{ daemon.Notifier }

func (n defaultBrokerNotifier) Status(line string) {
	// The daemon's words (daemon.StatusLine) for a broker it cannot reach.
	line = strings.Replace(line, "broker unreachable", "broker not configured (using the tutorial's default "+config.DefaultBroker+"), unreachable", 1)
	n.Notifier.Status(line)
}

// configFile names the config file in use, for messages.
func configFile(path string) string {
	if path == "" {
		return config.DefaultPath
	}
	return path
}

func forwardSignals(ctx context.Context, in <-chan os.Signal, out chan<- struct{}) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-in:
			select {
			case out <- struct{}{}:
			default: // a reload is already pending
			}
		}
	}
}
