package daemon

import (
	"context"
	"fmt"
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

// superviseLoop is the daemon's main loop: once a second it checks that the
// outbox and the publisher answer (both take their locks, so a deadlock
// stops the ticks and the watchdog restarts the service), refreshes the
// status line, and handles reload requests.
func (d *Daemon) superviseLoop(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var stall <-chan time.Time
	if d.opts.StallAfter > 0 {
		stall = time.After(d.opts.StallAfter)
	}
	lastStatus := ""
	for {
		select {
		case <-ctx.Done():
			return
		case <-stall:
			d.log.Warn("test trigger: the main loop stalls now (--debug-stall-after)")
			<-ctx.Done()
			return
		case <-d.opts.Reload:
			d.reload()
		case <-tick.C:
		}
		line := d.StatusLine()
		d.progress.tick()
		if line != lastStatus {
			d.opts.Notifier.Status(line)
			lastStatus = line
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
