package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/edgepub/edgepub/publisher"
)

// progressMeter lets the systemd watchdog see whether the main loop is
// alive: the loop ticks it, the watchdog asks whether it ticked since the
// last ping.
type progressMeter struct{ ticks, seen atomic.Uint64 }

func (p *progressMeter) tick() { p.ticks.Add(1) }

func (p *progressMeter) madeProgress() bool {
	now := p.ticks.Load()
	return p.seen.Swap(now) != now
}

// statusEvery is how often the status line is refreshed when nothing else
// wakes the main loop: only `systemctl status` shows it, and every wake-up
// costs a Pi power.
const statusEvery = 10 * time.Second

// supervisor is the daemon's main loop. It wakes up only when asked: by
// the watchdog's check (every WatchdogSec/2), by a reload, and every
// statusEvery under systemd; outside systemd only for reloads.
type supervisor struct {
	// status is the status line; computing it takes the outbox's and the
	// publisher's locks, so a deadlock there leaves the watchdog's check
	// unanswered and systemd restarts the service.
	status   func() string
	reload   func()
	reloads  <-chan struct{}
	notifier Notifier
	// stallAfter, if set, stops the loop after that time (a test trigger).
	stallAfter time.Duration
	log        *slog.Logger

	progress progressMeter
	checks   chan struct{}
}

func newSupervisor(status func() string, reload func(), o Opts) *supervisor {
	return &supervisor{status: status, reload: reload, reloads: o.Reload, notifier: o.Notifier,
		stallAfter: o.StallAfter, log: o.Logger, checks: make(chan struct{}, 1)}
}

// alive is the watchdog's progress function: it reports whether the loop
// answered the previous check (or started since), and asks it again. A
// stalled loop thus misses the next ping, not a later one.
func (s *supervisor) alive() bool {
	answered := s.progress.madeProgress()
	select {
	case s.checks <- struct{}{}:
	default:
	}
	return answered
}

// run refreshes the status line at start and at every wake-up until ctx is
// done, and handles reload requests.
func (s *supervisor) run(ctx context.Context) {
	var refresh <-chan time.Time
	if s.notifier.Enabled() {
		t := time.NewTicker(statusEvery)
		defer t.Stop()
		refresh = t.C
	}
	var stall <-chan time.Time
	if s.stallAfter > 0 {
		stall = time.After(s.stallAfter)
	}
	lastStatus := ""
	for {
		line := s.status()
		s.progress.tick()
		if line != lastStatus {
			s.notifier.Status(line)
			lastStatus = line
		}
		select {
		case <-ctx.Done():
			return
		case <-stall:
			s.log.Warn("test trigger: the main loop stalls now (--debug-stall-after)")
			<-ctx.Done()
			return
		case <-s.reloads:
			s.reload()
		case <-s.checks:
		case <-refresh:
		}
	}
}

// reload picks up renewed certificates on SIGHUP; the new pair is used from
// the next connection on. A broken replacement is refused and the old pair
// stays in use.
func (d *Daemon) reload() {
	d.opts.Notifier.Reloading()
	if err := d.certs.Reload(d.now()); err != nil {
		d.log.Error("reload: the new certificate files are not usable", "error", err)
	} else {
		d.log.Info("reload: certificates checked and loaded")
	}
	d.opts.Notifier.Ready()
}

// StatusLine is the one-line state for `systemctl status`.
func (d *Daemon) StatusLine() string {
	ps := d.publisher.Status()
	ob := d.outbox.Stats()
	certPart := ""
	if days, ok := d.expiry.DaysLeft(); ok {
		certPart = fmt.Sprintf(" · cert expires in %s days", thousands(days))
		if days < 0 {
			certPart = " · certificate EXPIRED"
		}
	}
	if d.renewer != nil {
		if st := d.renewer.Status(); st.State == "failing" || st.State == "refused" {
			certPart += fmt.Sprintf(" · renewal %s (%d attempts)", st.State, st.Failures)
		}
	}
	if d.clock != nil && !d.clock.Synced() {
		certPart += " · clock not synced"
	}
	if ps.Connected && ps.Delivery == publisher.DeliveryUnconfirmed {
		held := "readings held"
		if d.opts.Config.Broker.VerifyDelivery == "warn" {
			held = "readings sent unconfirmed"
		}
		return fmt.Sprintf("connected to %s · DELIVERY NOT CONFIRMED: the broker's ACL drops this device's publishes (add %s) · %s · backlog %s%s", ps.Broker, publisher.ACLLine, held, thousands(ob.Backlog), certPart)
	}
	if ps.Connected {
		return fmt.Sprintf("connected to %s · backlog %s%s", ps.Broker, thousands(ob.Backlog), certPart)
	}
	line := fmt.Sprintf("broker unreachable since %s, backlog %s", ps.Since.Local().Format("15:04"), thousands(ob.Backlog))
	if !ps.RetryAt.IsZero() {
		line += fmt.Sprintf(", retry in %s", max(0, ps.RetryAt.Sub(time.Now())).Round(time.Second))
	}
	if ob.DiskErr != nil {
		line += " · DISK ERROR, readings held in memory"
	}
	return line + certPart
}

// thousands writes 1204 as "1,204".
func thousands(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
