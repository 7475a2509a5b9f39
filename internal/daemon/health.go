package daemon

import (
	"context"
	"encoding/json"
	"math"
	"sync/atomic"
	"time"

	"github.com/edgepub/edgepub/certs"
	"github.com/edgepub/edgepub/certs/renew"
	"github.com/edgepub/edgepub/internal/periodic"
	"github.com/edgepub/edgepub/message"
	"github.com/edgepub/edgepub/outbox"
	"github.com/edgepub/edgepub/publisher"
	"github.com/edgepub/edgepub/sensors"
)

// Health is the retained message on <device>/health: everything an
// operator needs to judge a device from MQTT alone.
type Health struct {
	Device     string `json:"device"`
	Version    string `json:"version"`
	Time       string `json:"time"`
	UptimeS    int64  `json:"uptime_s"`
	Broker     string `json:"broker"`
	Connected  bool   `json:"connected"`
	Reconnects uint64 `json:"reconnects"`
	// IdentityConflicts counts episodes of another client taking this
	// device's connection again and again (same certificate elsewhere).
	IdentityConflicts uint64 `json:"identity_conflicts"`
	// Delivery says whether the broker was seen to route this device's
	// publishes (confirmed, unconfirmed, unchecked, off); DeliveryError
	// explains an unconfirmed one; Unconfirmed counts readings sent while
	// it was (verify_delivery: warn).
	Delivery        string                 `json:"delivery"`
	DeliveryError   string                 `json:"delivery_error,omitempty"`
	Unconfirmed     uint64                 `json:"unconfirmed"`
	Delivered       uint64                 `json:"delivered"`
	Backlog         int                    `json:"backlog"`
	OldestAgeS      float64                `json:"oldest_age_s"`
	Dropped         uint64                 `json:"dropped"`
	SeqSkipped      []outbox.SeqRange      `json:"seq_skipped,omitempty"`
	DiskError       string                 `json:"disk_error,omitempty"`
	ClockSynced     bool                   `json:"clock_synced"`
	CertDaysLeft    *int                   `json:"cert_days_left,omitempty"`
	Certs           []certs.CertStatus     `json:"certs,omitempty"`
	CertRenewal     *renew.Status          `json:"cert_renewal,omitempty"`
	SoCTemperatureC *float64               `json:"soc_temperature_c,omitempty"`
	Sensors         []sensors.SensorStatus `json:"sensors"`
}

// Health returns the device's current health.
func (d *Daemon) Health() Health {
	now := d.now()
	ps := d.publisher.Status()
	ob := d.outbox.Stats()
	h := Health{
		Device:            d.device,
		Version:           d.opts.Version,
		Time:              now.UTC().Format(message.TimeLayout),
		UptimeS:           int64(now.Sub(d.started).Seconds()),
		Broker:            ps.Broker,
		Connected:         ps.Connected,
		Reconnects:        ps.Reconnects,
		IdentityConflicts: ps.IdentityConflicts,
		Delivery:          ps.Delivery,
		DeliveryError:     ps.DeliveryError,
		Unconfirmed:       ps.Unconfirmed,
		Delivered:         ps.Delivered,
		Backlog:           ob.Backlog,
		Dropped:           ob.Dropped,
		ClockSynced:       d.clock.Synced(),
		Certs:             d.expiry.Statuses(),
		Sensors:           d.runner.Status(),
	}
	if !ob.Oldest.IsZero() {
		h.OldestAgeS = math.Round(now.Sub(ob.Oldest).Seconds()*10) / 10
	}
	if ob.Skipped != (outbox.SeqRange{}) {
		h.SeqSkipped = []outbox.SeqRange{ob.Skipped}
	}
	if ob.DiskErr != nil {
		h.DiskError = ob.DiskErr.Error()
	}
	if days, ok := d.expiry.DaysLeft(); ok {
		h.CertDaysLeft = &days
	}
	if t, ok := d.socTemp.get(); ok {
		h.SoCTemperatureC = &t
	}
	if d.renewer != nil {
		st := d.renewer.Status()
		h.CertRenewal = &st
	}
	return h
}

// startPresence keeps the retained state fresh: Health every interval while
// connected, and Health and discovery again after every connect
// (connected). It runs on timer callbacks, one round at a time.
func (d *Daemon) startPresence(ctx context.Context) *periodic.Loop {
	every := d.opts.Config.Presence.HealthInterval.Std()
	nextHealth := time.Now().Add(every)
	untilHealth := func() time.Duration {
		if every <= 0 {
			return periodic.WaitForReset // only connects wake the loop
		}
		return time.Until(nextHealth)
	}
	d.presence = periodic.Start(ctx, untilHealth(), func(ctx context.Context) (time.Duration, bool) {
		if d.reconnected.Swap(false) {
			d.refreshRetained(ctx)
		}
		if now := time.Now(); every > 0 && !now.Before(nextHealth) {
			nextHealth = periodic.NextTick(nextHealth, now, every)
			d.publishHealth(ctx)
		}
		return untilHealth(), true
	})
	return d.presence
}

// connected is the publisher's OnConnect: the retained state is published
// anew on the presence loop.
func (d *Daemon) connected() {
	d.reconnected.Store(true)
	d.presence.Reset(0)
}

func (d *Daemon) publishHealth(ctx context.Context) {
	payload, err := json.Marshal(d.Health())
	if err != nil {
		d.log.Error("cannot encode health", "error", err)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := d.publisher.Publish(ctx, d.device+"/health", payload, true); err != nil && err != publisher.ErrNotConnected {
		d.log.Debug("health not published", "error", err)
	}
}

// refreshRetained publishes the retained state anew on a new connection.
func (d *Daemon) refreshRetained(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if d.opts.Config.Presence.HealthInterval > 0 {
		d.publishHealth(ctx)
	}
	if d.opts.Config.Presence.HomeAssistant {
		d.publishDiscovery(ctx)
	}
}

// atomicFloat holds the last value of one field, e.g. the SoC temperature.
type atomicFloat struct {
	bits atomic.Uint64
	set  atomic.Bool
}

func (a *atomicFloat) store(v float64) { a.bits.Store(math.Float64bits(v)); a.set.Store(true) }

func (a *atomicFloat) get() (float64, bool) {
	return math.Float64frombits(a.bits.Load()), a.set.Load()
}
