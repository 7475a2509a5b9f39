package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
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
	stallAfter := fs.Duration("debug-stall-after", 0, "test only: stop the main loop after this time, so the systemd watchdog must restart the service")
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
	level, _ := cfg.Log.SlogLevel() // validated
	logger := logging.New(logging.Opts{Level: level, Stderr: stderr})

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := make(chan struct{}, 1)
	go forwardSignals(ctx, hup, reload)

	buses := catalog.NewHostBuses()
	defer buses.Close()
	return daemon.Run(ctx, daemon.Opts{
		Config:   cfg,
		Logger:   logger,
		Notifier: sdnotify.New(logger),
		OpenSensor: func(ctx context.Context, spec config.Sensor) (sensors.Sensor, error) {
			return catalog.Open(ctx, spec, buses)
		},
		Reload:     reload,
		Version:    buildinfo.Version,
		StallAfter: *stallAfter,
	})
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
