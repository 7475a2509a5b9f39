// Package homeassistant announces a device's readings to Home Assistant by
// MQTT discovery: one retained config per field, under a topic the broker's
// ACL admits with one extra line (DiscoveryACL).
package homeassistant

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/edgepub/edgepub/message"
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
	"pm1_0_ugm3":        {"pm1", "µg/m³"},
	"pm2_5_ugm3":        {"pm25", "µg/m³"},
	"pm10_ugm3":         {"pm10", "µg/m³"},
	// Home Assistant has no device class for these: unit only.
	"gas_ohm":        {"", "Ω"},
	"resistance_ohm": {"", "Ω"},
	"uv_index":       {"", ""},
	"fan_rpm":        {"", "rpm"},
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
		{"_ppb", quantity{"", "ppb"}}, {"_ohm", quantity{"", "Ω"}},
	}
	for _, s := range suffixes {
		if strings.HasSuffix(field, s.suffix) {
			return s.q
		}
	}
	return quantity{}
}

// Config is one Home Assistant MQTT discovery message for one field of one
// sensor.
type Config struct {
	Name                string `json:"name"`
	UniqueID            string `json:"unique_id"`
	StateTopic          string `json:"state_topic"`
	ValueTemplate       string `json:"value_template"`
	DeviceClass         string `json:"device_class,omitempty"`
	UnitOfMeasurement   string `json:"unit_of_measurement,omitempty"`
	StateClass          string `json:"state_class"`
	AvailabilityTopic   string `json:"availability_topic"`
	PayloadAvailable    string `json:"payload_available"`
	PayloadNotAvailable string `json:"payload_not_available"`
	Device              Device `json:"device"`
}

// Device groups a device's entities in Home Assistant.
type Device struct {
	Identifiers  []string `json:"identifiers"`
	Name         string   `json:"name"`
	Manufacturer string   `json:"manufacturer"`
	Model        string   `json:"model"`
	SWVersion    string   `json:"sw_version,omitempty"`
}

// DiscoveryACL is the line the broker's acl_file needs so that devices may
// announce themselves: the tutorial's "pattern readwrite %u/#" does not reach
// outside the device's own tree. Mosquitto substitutes %u only as a whole
// topic level, hence the device id as Home Assistant's node_id level.
func DiscoveryACL(prefix string) string { return "pattern readwrite " + prefix + "/sensor/%u/#" }

// DiscoveryTopic is where the config of one object of a device goes.
func DiscoveryTopic(prefix, device, object string) string {
	return prefix + "/sensor/" + NodeID(device) + "/" + object + "/config"
}

// Discovery returns the topic and message announcing one field. The topic
// is <prefix>/sensor/<device>/<sensor>_<field>/config: the device id is
// Home Assistant's optional node_id level, which DiscoveryACL admits.
func Discovery(prefix, device, version, sensor, field string) (string, Config) {
	object := NodeID(sensor) + "_" + field
	id := NodeID(device) + "_" + object
	q := quantityOf(field)
	return DiscoveryTopic(prefix, device, object), Config{
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
		Device: Device{
			Identifiers: []string{"edgepub_" + NodeID(device)}, Name: device,
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

// NodeID keeps what Home Assistant accepts in a discovery node or object
// id, replacing anything else with '_'.
//
// A name that had to change gets a hash of the original appended, so that
// "Kai.1" and "Kai_1" stay two devices in Home Assistant.
func NodeID(s string) string {
	changed := false
	out := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			return r
		}
		changed = true
		return '_'
	}, s)
	if !changed {
		return out
	}
	sum := sha256.Sum256([]byte(s))
	return out + "_" + hex.EncodeToString(sum[:4])
}
