// Package daemon wires edgepub together: certificates, sensors, the
// durable outbox and the publisher, plus the device status that systemd,
// the logs and the health messages show. Data flows one way: sensor →
// message → outbox (on disk) → publisher → MQTT → PUBACK → removed from the
// outbox.
package daemon

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgepub/edgepub/certs"
	"github.com/edgepub/edgepub/certs/renew"
	"github.com/edgepub/edgepub/config"
	"github.com/edgepub/edgepub/internal/clock"
	"github.com/edgepub/edgepub/internal/logging"
	"github.com/edgepub/edgepub/internal/periodic"
	"github.com/edgepub/edgepub/message"
	"github.com/edgepub/edgepub/outbox"
	"github.com/edgepub/edgepub/publisher"
	"github.com/edgepub/edgepub/sensors"
)

// Notifier tells the service manager about the daemon's state; a no-op
// outside systemd.
type Notifier interface {
	// Enabled reports whether a service manager listens.
	Enabled() bool
	Ready()
	Reloading()
	Status(string)
	Stopping()
	RunWatchdog(ctx context.Context, progress func() bool)
}

// SensorOpener opens one configured sensor (sensors/catalog in production).
type SensorOpener func(ctx context.Context, spec config.Sensor) (sensors.Sensor, error)

// Opts are what Run needs besides the config.
type Opts struct {
	Config config.Config
	Logger *slog.Logger
	// Notifier may be nil.
	Notifier Notifier
	// OpenSensor opens the configured sensors.
	OpenSensor SensorOpener
	// Reload receives a value for every SIGHUP: certificates are reloaded.
	Reload <-chan struct{}
	// Version goes into the health message.
	Version string
	// StallAfter, if set, stops the main loop's progress after that time so
	// that a test can watch the systemd watchdog restart the service.
	StallAfter time.Duration
	// Ready, if set, is called once the daemon has loaded everything and is
	// running (READY=1 time); tests use it.
	Ready func(*Daemon)
	// Clock is the machine's clocks and sync state; nil means the system's.
	// Tests skew it.
	Clock clock.Source
	// TuneRenewal, if set, adjusts the renewer's options (timeouts,
	// delays); tests use it.
	TuneRenewal func(*renew.Opts)
	// CertPoll, if set, checks the certificate files that often instead of
	// watching them for changes: the fleet benchmark runs thousands of
	// daemons in one process, beyond the 128 inotify instances a user gets.
	CertPoll time.Duration
}

// debugReadingsPerSecond is how many readings per second --log-level debug
// shows as queued (and the publisher as acknowledged); the rest are counted.
const debugReadingsPerSecond = 10

// Daemon is a running edgepub.
type Daemon struct {
	opts    Opts
	log     *slog.Logger
	device  string
	started time.Time

	certs     *certs.Source
	expiry    *certs.ExpiryWatcher
	outbox    *outbox.Outbox
	runner    *sensors.Runner
	publisher *publisher.Publisher
	renewer   *renew.Renewer // nil unless certs.renew is auto
	clock     *clock.Tracker
	// now is the wall clock held at the time floor: certificate checks and
	// the device's own times use it, never a clock back at 1970.
	now func() time.Time

	// presence publishes the retained state; reconnected asks it to
	// publish all of it anew after a connect.
	presence    *periodic.Loop
	reconnected atomic.Bool

	socTemp   atomicFloat
	discovery discoveryState
	// debugQueued rate-limits the debug record of each queued reading.
	debugQueued *logging.Limiter
}

// Run loads certificates, the outbox and the sensors, reports READY, and
// publishes until ctx is done. It never waits for the broker. The error is
// one line a person can act on.
func Run(ctx context.Context, o Opts) error {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Notifier == nil {
		o.Notifier = nopNotifier{}
	}
	if o.Clock == nil {
		o.Clock = &clock.System{}
	}
	cfg := o.Config
	floor := clock.OpenFloor(cfg.StateDir, clock.BuildTime(), o.Clock.Wall)
	d := &Daemon{opts: o, now: floor.Time, debugQueued: logging.NewLimiter(debugReadingsPerSecond, time.Second)}
	d.started = d.now()

	names := certs.ConfigNames(cfg.Certs)
	bundle, chosen, err := certs.LoadPreferred(cfg.Certs.Dir, names, renew.Dir(cfg.StateDir), d.now())
	var validity *certs.ValidityError
	switch {
	case errors.As(err, &validity) && bundle != nil:
		// An expired or not yet valid certificate is no reason to stop
		// taking readings: they queue until a renewed certificate arrives
		// or the clock is set.
		o.Logger.Error("client certificate cannot be used now; readings are kept until it is replaced", "error", err)
	case err != nil:
		return err
	}
	d.device = bundle.Identity
	d.log = o.Logger.With("device", d.device)
	if now, floored := floor.Now(); floored {
		d.log.Warn("the wall clock is behind the time floor, so it is wrong: certificates are checked and readings stamped with the floor until the clock is synced",
			"wall", o.Clock.Wall().UTC().Format(time.RFC3339), "floor", now.UTC().Format(time.RFC3339), logging.MessageID(logging.MsgClockFloor))
	}
	if chosen != "" {
		d.log.Info(chosen)
	}
	bundle.LogWarnings(ctx, d.log)
	d.warnUnmatchableDeviceID()
	d.certs = certs.NewSource(cfg.Certs.Dir, names, bundle, d.log)
	d.certs.PreferRenewed(renew.Dir(cfg.StateDir))
	d.renewer = d.newRenewer()
	d.expiry = certs.NewExpiryWatcher(d.certs, certs.ExpiryOpts{
		WarnDays: cfg.Certs.WarnDays, ErrorDays: cfg.Certs.ErrorDays, Now: d.now, Logger: d.log,
	})

	d.outbox, err = outbox.Open(filepath.Join(cfg.StateDir, "outbox"), &outbox.Opts{
		MaxBytes:    int64(cfg.Outbox.MaxBytes),
		MaxAge:      cfg.Outbox.MaxAge.Std(),
		SyncWindow:  cfg.Outbox.SyncWindow.Std(),
		MemoryLimit: cfg.Outbox.MemoryLimit,
		Logger:      d.log,
	})
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	defer d.outbox.Close()
	if err := d.outbox.Stats().DiskErr; err != nil {
		// Readings kept only in memory would be numbered again from the
		// same seq by the next run: a state dir that does not work at
		// start is a start-up error. Memory is for a disk failing later.
		return stateDirError(cfg.StateDir, err)
	}

	sources, err := d.openSensors(ctx)
	if err != nil {
		return err
	}
	d.clock = clock.NewTracker(clock.TrackerOpts{
		Source: o.Clock, Wall: d.now, StateDir: cfg.StateDir, HoldUnsynced: cfg.Clock.HoldUnsynced.Std(), Logger: d.log,
	})
	d.runner = sensors.NewRunner(sensors.RunnerOpts{Logger: d.log, Taken: func() (time.Time, time.Duration) {
		return d.now(), o.Clock.SinceBoot()
	}})
	d.publisher = publisher.New(d.outbox, d.publisherOpts())

	d.log.Info("edgepub started", "version", o.Version, "broker", cfg.Broker.URLs, "sensors", len(sources), "state_dir", cfg.StateDir,
		"backlog", d.outbox.Stats().Backlog, logging.MessageID(logging.MsgStarted))
	o.Notifier.Ready()
	if o.Ready != nil {
		o.Ready(d)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Loops that only wait on a timer run on its callbacks: no goroutine
	// is parked between their rounds. The cert poll starts first: its
	// error leaves nothing running.
	var loops []*periodic.Loop
	if o.CertPoll > 0 {
		poll, err := d.certs.StartPoll(ctx, d.now, o.CertPoll)
		if err != nil {
			return err
		}
		loops = append(loops, poll)
	}
	loops = append(loops, d.outbox.Start(ctx), d.expiry.Start(ctx), d.clock.Start(ctx), d.startPresence(ctx))
	var wg sync.WaitGroup
	if o.CertPoll <= 0 {
		wg.Go(func() { d.certs.Watch(ctx, d.now) })
	}
	wg.Go(func() { d.runner.Run(ctx, sources, d.accept) })
	wg.Go(func() { d.publisher.Run(ctx) })
	supervisor := newSupervisor(d.StatusLine, d.reload, o)
	wg.Go(func() { o.Notifier.RunWatchdog(ctx, supervisor.alive) })
	if d.renewer != nil {
		wg.Go(func() { d.renewer.Run(ctx) })
	}

	// The main loop runs on this goroutine, which would otherwise only
	// wait for ctx: one goroutine stack less per daemon.
	supervisor.run(ctx)
	o.Notifier.Stopping()
	d.log.Info("stopping", "backlog", d.outbox.Stats().Backlog, logging.MessageID(logging.MsgStopping))
	wg.Wait()
	for _, l := range loops {
		l.Wait()
	}
	haltSensors(sources, d.log)
	if err := floor.Persist(true); err != nil {
		d.log.Warn("time floor not saved", "error", err)
	}
	return nil
}

// haltSensors puts devices that measure on their own (e.g. an SCD4x in
// periodic mode) back to idle, so they do not keep heating up between runs.
func haltSensors(sources []sensors.Source, log *slog.Logger) {
	for _, src := range sources {
		if h, ok := src.Sensor.(interface{ Halt() error }); ok {
			if err := h.Halt(); err != nil {
				log.Warn("sensor did not halt", "sensor", src.Name, "error", err)
			}
		}
	}
}

// accept turns a reading into a message and makes it durable. It runs on
// the sensors' goroutines.
func (d *Daemon) accept(r sensors.Reading) {
	if t, ok := r.Values["soc_temperature_c"]; ok {
		d.socTemp.store(t)
	}
	d.discovery.see(d, r)
	taken := d.clock.Taken(r.SinceBoot)
	seq, err := d.outbox.Append(r.Time, message.FrameFunc(d.device, r, &taken))
	if err != nil {
		d.log.Error("reading not accepted", "sensor", r.Sensor, "error", err)
		return
	}
	if d.log.Enabled(context.Background(), slog.LevelDebug) {
		if ok, held := d.debugQueued.Allow(d.now()); ok {
			d.log.Debug("reading queued", "sensor", r.Sensor, "seq", seq, "values", r.Values, "not_logged", held)
		}
	}
}

func (d *Daemon) publisherOpts() publisher.Opts {
	b := d.opts.Config.Broker
	return publisher.Opts{
		URLs:     b.URLs, // normalised by config.Validate
		ClientID: d.device,
		TLSConfig: func(host string) *tls.Config {
			return certs.ClientTLSConfig(d.certs, certs.TLSOpts{
				Host:               host,
				Now:                d.now,
				OnServerCert:       d.expiry.SetBrokerCert,
				OnLegacyServerCert: func(c *x509.Certificate) { d.warnLegacyServerCert(host, c) },
			})
		},
		KeepAlive:      b.KeepAlive.Std(),
		ConnectTimeout: b.ConnectTimeout.Std(),
		BackoffMin:     b.BackoffMin.Std(),
		BackoffMax:     b.BackoffMax.Std(),
		StartJitter:    b.StartJitter.Std(),
		InFlight:       b.InFlight,
		VerifyDelivery: publisher.VerifyMode(b.VerifyDelivery),
		VerifyEvery:    b.VerifyInterval.Std(),
		StatusTopic:    d.device + "/status",
		OnConnect:      d.connected,
		Stamp:          d.clock.Stamp,
		Gate:           d.clock,
		Logger:         d.log,
	}
}

func (d *Daemon) warnLegacyServerCert(host string, c *x509.Certificate) {
	d.log.Warn("the broker's certificate has no subjectAltName; accepted because it is signed by ca.crt and its CN matches the host. Reissue it with a SAN so that every client accepts it",
		"host", host, "cert_cn", c.Subject.CommonName, "fix", certs.LegacyReissueHint(host),
		logging.MessageID(logging.MsgLegacyServerCert))
}

type nopNotifier struct{}

func (nopNotifier) Enabled() bool                            { return false }
func (nopNotifier) Ready()                                   {}
func (nopNotifier) Reloading()                               {}
func (nopNotifier) Status(string)                            {}
func (nopNotifier) Stopping()                                {}
func (nopNotifier) RunWatchdog(context.Context, func() bool) {}

// stateDirError names the state dir, the user and the fix for an outbox
// that cannot use its dir at start.
func stateDirError(dir string, diskErr error) error {
	cause := errors.Unwrap(diskErr)
	if cause == nil {
		cause = diskErr
	}
	who := "uid " + strconv.Itoa(os.Geteuid())
	if u, err := user.Current(); err == nil && u.Username != "" {
		who = u.Username + " (" + who + ")"
	}
	return fmt.Errorf("state dir %s cannot be used by user %s: %w; pass --state-dir DIR with a folder this user can write (or set state_dir), or run edgepub as the service (sudo systemctl start edgepub)", dir, who, cause)
}
