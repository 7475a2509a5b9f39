// Package sdnotify tells systemd how edgepub is doing over the sd_notify
// protocol: readiness, reloads, a status line, shutdown, and a watchdog that
// only pings while the daemon's main loops really make progress.
package sdnotify

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Notifier sends state changes to systemd. Outside a Type=notify unit
// (NOTIFY_SOCKET unset) every method does nothing, so callers never need to
// ask whether they run under systemd.
type Notifier struct {
	logger *slog.Logger
	// enabled is decided once at New, so a NOTIFY_SOCKET that appears or
	// disappears later cannot make the daemon half-notify.
	enabled bool
	// watchdog is the WatchdogSec= systemd gave this process; 0 when off.
	watchdog time.Duration
}

// New returns a Notifier for the service manager named by NOTIFY_SOCKET and
// WATCHDOG_USEC/WATCHDOG_PID. Failures to notify are logged to logger
// (nil means slog.Default()) and otherwise ignored: losing a status line
// must never stop the daemon.
func New(logger *slog.Logger) *Notifier {
	if logger == nil {
		logger = slog.Default()
	}
	n := &Notifier{logger: logger, enabled: os.Getenv("NOTIFY_SOCKET") != ""}
	if !n.enabled {
		return n
	}
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		logger.Warn("ignoring systemd watchdog settings", "error", err)
	}
	n.watchdog = interval
	return n
}

// Enabled reports whether a service manager listens; false outside systemd.
func (n *Notifier) Enabled() bool { return n.enabled }

// WatchdogInterval is the WatchdogSec= of the unit, 0 when the watchdog is off.
func (n *Notifier) WatchdogInterval() time.Duration { return n.watchdog }

// Ready tells systemd that start-up (or a reload) finished; a Type=notify
// unit counts as started only from here on.
func (n *Notifier) Ready() { n.send(daemon.SdNotifyReady) }

// Reloading tells systemd that the daemon reloads its configuration; call
// Ready when done. MONOTONIC_USEC is what systemd ≥ 253 requires for
// Type=notify-reload; systemd 252 ignores it.
func (n *Notifier) Reloading() {
	n.send(daemon.SdNotifyReloading + "\n" + strings.TrimSpace(daemon.SdNotifyMonotonicUsec()))
}

// Status sets the one-line status `systemctl status edgepub` shows.
func (n *Notifier) Status(status string) {
	// A newline would start a new assignment and could forge e.g. READY=1.
	n.send("STATUS=" + strings.Join(strings.Fields(status), " "))
}

// Stopping tells systemd that shutdown began, so the time spent draining
// is not mistaken for a hang.
func (n *Notifier) Stopping() { n.send(daemon.SdNotifyStopping) }

// RunWatchdog pings systemd's watchdog every WatchdogSec/2 while progress
// reports that the main loops advanced since the previous call, and
// withholds the ping when they did not: a stuck daemon is then killed and
// restarted by systemd instead of looking alive. progress is called once
// per interval from this goroutine. RunWatchdog returns when ctx is done, or
// at once when the unit has no watchdog.
func (n *Notifier) RunWatchdog(ctx context.Context, progress func() bool) {
	if !n.enabled || n.watchdog <= 0 {
		return
	}
	ticker := time.NewTicker(n.watchdog / 2)
	defer ticker.Stop()
	stalled := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		if !progress() {
			if !stalled {
				n.logger.Warn("main loop made no progress; withholding the watchdog ping",
					"watchdog", n.watchdog)
			}
			stalled = true
			continue
		}
		if stalled {
			n.logger.Info("main loop progresses again; resuming the watchdog ping")
		}
		stalled = false
		n.send(daemon.SdNotifyWatchdog)
	}
}

func (n *Notifier) send(state string) {
	if !n.enabled {
		return
	}
	if _, err := daemon.SdNotify(false, state); err != nil {
		n.logger.Warn("cannot notify systemd", "state", firstLine(state), "error", err)
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
