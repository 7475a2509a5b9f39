package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/edgepub/edgepub/internal/homeassistant"
	"github.com/edgepub/edgepub/publisher"
	"github.com/edgepub/edgepub/sensors"
)

// discoveryState remembers the fields each sensor has reported, so that a
// field is announced once when it first appears and again on each connect.
type discoveryState struct {
	mu     sync.Mutex
	fields map[string][]string // sensor → fields
}

func (s *discoveryState) see(d *Daemon, r sensors.Reading) {
	if !d.opts.Config.Presence.HomeAssistant {
		return
	}
	s.mu.Lock()
	if s.fields == nil {
		s.fields = map[string][]string{}
	}
	var fresh []string
	for field := range r.Values {
		if !slices.Contains(s.fields[r.Sensor], field) {
			s.fields[r.Sensor] = append(s.fields[r.Sensor], field)
			fresh = append(fresh, field)
		}
	}
	s.mu.Unlock()
	if len(fresh) > 0 {
		// Announce right away; if offline, the next connect announces
		// everything. The timeout bounds the goroutine.
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			d.publishDiscoveryFor(ctx, r.Sensor, fresh)
		}()
	}
}

func (s *discoveryState) snapshot() map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string][]string, len(s.fields))
	for k, v := range s.fields {
		out[k] = slices.Clone(v)
	}
	return out
}

func (d *Daemon) publishDiscovery(ctx context.Context) {
	for sensor, fields := range d.discovery.snapshot() {
		d.publishDiscoveryFor(ctx, sensor, fields)
	}
}

func (d *Daemon) publishDiscoveryFor(ctx context.Context, sensor string, fields []string) {
	prefix := d.opts.Config.Presence.DiscoveryPrefix
	for _, field := range fields {
		topic, cfg := homeassistant.Discovery(prefix, d.device, d.opts.Version, sensor, field)
		payload, _ := json.Marshal(cfg)
		err := d.publisher.Publish(ctx, topic, payload, true)
		if errors.Is(err, publisher.ErrNotConnected) {
			return // the next connect announces everything
		}
		if err != nil {
			// Mosquitto acknowledges a publish its ACL denies, so a denial
			// usually goes unseen (edgepub check finds it); some versions
			// drop the connection instead, which lands here.
			d.log.Warn("home assistant discovery not published; if this repeats, the broker's acl_file probably lacks the discovery line",
				"topic", topic, "acl_line", homeassistant.DiscoveryACL(prefix), "error", err)
			return
		}
	}
}

// warnUnmatchableDeviceID says at start when discovery cannot pass the ACL:
// Mosquitto puts the CN as it is into %u, but Home Assistant's node_id
// allows only [a-zA-Z0-9_-].
func (d *Daemon) warnUnmatchableDeviceID() {
	if !d.opts.Config.Presence.HomeAssistant || homeassistant.NodeID(d.device) == d.device {
		return
	}
	prefix := d.opts.Config.Presence.DiscoveryPrefix
	d.log.Warn("the device id has characters Home Assistant's discovery topics cannot carry, so the ACL pattern cannot match it; add a rule for this device to the broker's acl_file",
		"acl_lines", "user "+d.device+" / topic readwrite "+prefix+"/sensor/"+homeassistant.NodeID(d.device)+"/#")
}
