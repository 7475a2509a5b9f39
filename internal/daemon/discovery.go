package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/edgepub/edgepub/message"
	"github.com/edgepub/edgepub/publisher"
	"github.com/edgepub/edgepub/sensors"
)

// quantity is how Home Assistant should show a field.
type quantity struct {
	DeviceClass string
	Unit        string
}

// quantities maps the payload's field names to Home Assistant's sensor
// device classes and units (the pairs its documentation allows).
var quantities = map[string]quantity{
	"temperature_c":     {"temperature", "°C"},
	"soc_temperature_c": {"temperature", "°C"},
	"humidity_pct":      {"humidity", "%"},
	"pressure_hpa":      {"atmospheric_pressure", "hPa"},
	"co2_ppm":           {"carbon_dioxide", "ppm"},
	"eco2_ppm":          {"carbon_dioxide", "ppm"},
	"tvoc_ppb":          {"volatile_organic_compounds_parts", "ppb"},
	"illuminance_lux":   {"illuminance", "lx"},
	"voltage_v":         {"voltage", "V"},
	"current_a":         {"current", "A"},
	"power_w":           {"power", "W"},
}

// quantityOf falls back on the unit suffix for fields not in the table,
// e.g. an ADC channel named by the user.
func quantityOf(field string) quantity {
	if q, ok := quantities[field]; ok {
		return q
	}
	suffixes := []struct {
		suffix string
		q      quantity
	}{
		{"_c", quantity{"temperature", "°C"}}, {"_pct", quantity{"", "%"}}, {"_hpa", quantity{"atmospheric_pressure", "hPa"}},
		{"_ppm", quantity{"", "ppm"}}, {"_lux", quantity{"illuminance", "lx"}}, {"_v", quantity{"voltage", "V"}},
		{"_a", quantity{"current", "A"}}, {"_w", quantity{"power", "W"}},
	}
	for _, s := range suffixes {
		if strings.HasSuffix(field, s.suffix) {
			return s.q
		}
	}
	return quantity{}
}

// DiscoveryConfig is one Home Assistant MQTT discovery message for one
// field of one sensor.
type DiscoveryConfig struct {
	Name                string          `json:"name"`
	UniqueID            string          `json:"unique_id"`
	StateTopic          string          `json:"state_topic"`
	ValueTemplate       string          `json:"value_template"`
	DeviceClass         string          `json:"device_class,omitempty"`
	UnitOfMeasurement   string          `json:"unit_of_measurement,omitempty"`
	StateClass          string          `json:"state_class"`
	AvailabilityTopic   string          `json:"availability_topic"`
	PayloadAvailable    string          `json:"payload_available"`
	PayloadNotAvailable string          `json:"payload_not_available"`
	Device              DiscoveryDevice `json:"device"`
}

// DiscoveryDevice groups a device's entities in Home Assistant.
type DiscoveryDevice struct {
	Identifiers  []string `json:"identifiers"`
	Name         string   `json:"name"`
	Manufacturer string   `json:"manufacturer"`
	Model        string   `json:"model"`
	SWVersion    string   `json:"sw_version,omitempty"`
}

// DiscoveryACL is the line the broker's acl_file needs so that devices may
// announce themselves: the seed's "pattern readwrite %u/#" does not reach
// outside the device's own tree. Mosquitto substitutes %u only as a whole
// topic level, hence the device id as Home Assistant's node_id level.
func DiscoveryACL(prefix string) string { return "pattern readwrite " + prefix + "/sensor/%u/#" }

// DiscoveryTopic is where the config of one object of a device goes.
func DiscoveryTopic(prefix, device, object string) string {
	return prefix + "/sensor/" + sanitizeID(device) + "/" + object + "/config"
}

// Discovery returns the topic and message announcing one field. The topic
// is <prefix>/sensor/<device>/<sensor>_<field>/config: the device id is
// Home Assistant's optional node_id level, which DiscoveryACL admits.
func Discovery(prefix, device, version, sensor, field string) (string, DiscoveryConfig) {
	object := sanitizeID(sensor) + "_" + field
	id := sanitizeID(device) + "_" + object
	q := quantityOf(field)
	return DiscoveryTopic(prefix, device, object), DiscoveryConfig{
		Name:                sensor + " " + strings.ReplaceAll(strings.TrimSuffix(field, "_"+unitSuffix(field)), "_", " "),
		UniqueID:            "edgepub_" + id,
		StateTopic:          message.Topic(device, sensor),
		ValueTemplate:       "{{ value_json." + field + " }}",
		DeviceClass:         q.DeviceClass,
		UnitOfMeasurement:   q.Unit,
		StateClass:          "measurement",
		AvailabilityTopic:   device + "/status",
		PayloadAvailable:    "online",
		PayloadNotAvailable: "offline",
		Device: DiscoveryDevice{
			Identifiers: []string{"edgepub_" + sanitizeID(device)}, Name: device,
			Manufacturer: "edgepub", Model: "edgepub", SWVersion: version,
		},
	}
}

func unitSuffix(field string) string {
	if i := strings.LastIndexByte(field, '_'); i >= 0 {
		return field[i+1:]
	}
	return ""
}

// sanitizeID keeps what Home Assistant accepts in a discovery object id.
func sanitizeID(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			return r
		}
		return '_'
	}, s)
}

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
		topic, cfg := Discovery(prefix, d.device, d.opts.Version, sensor, field)
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
				"topic", topic, "acl_line", DiscoveryACL(prefix), "error", err)
			return
		}
	}
}

// warnUnmatchableDeviceID says at start when discovery cannot pass the ACL:
// Mosquitto puts the CN as it is into %u, but Home Assistant's node_id
// allows only [a-zA-Z0-9_-].
func (d *Daemon) warnUnmatchableDeviceID() {
	if !d.opts.Config.Presence.HomeAssistant || sanitizeID(d.device) == d.device {
		return
	}
	prefix := d.opts.Config.Presence.DiscoveryPrefix
	d.log.Warn("the device id has characters Home Assistant's discovery topics cannot carry, so the ACL pattern cannot match it; add a rule for this device to the broker's acl_file",
		"acl_lines", "user "+d.device+" / topic readwrite "+prefix+"/sensor/"+sanitizeID(d.device)+"/#")
}
