package homeassistant

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgepub/edgepub/config"
	"github.com/edgepub/edgepub/message"
	"github.com/edgepub/edgepub/sensors"
	"github.com/edgepub/edgepub/sensors/catalog"
)

// haDeviceClassUnits are the units Home Assistant accepts for each sensor
// device class edgepub might announce, as its sensor documentation and
// DEVICE_CLASS_UNITS (homeassistant/components/sensor/const.py) list them.
// A pair outside this table makes Home Assistant log "is using native unit
// of measurement … which is not a valid unit for the device class" and
// drop the unit conversion and long-term statistics.
var haDeviceClassUnits = map[string][]string{
	"temperature":                      {"°C", "°F", "K"},
	"humidity":                         {"%"},
	"moisture":                         {"%"},
	"battery":                          {"%"},
	"atmospheric_pressure":             {"cbar", "bar", "hPa", "mmHg", "inHg", "kPa", "mbar", "Pa", "psi"},
	"pressure":                         {"cbar", "bar", "hPa", "mmHg", "inHg", "kPa", "mbar", "Pa", "psi"},
	"carbon_dioxide":                   {"ppm"},
	"carbon_monoxide":                  {"ppm"},
	"volatile_organic_compounds_parts": {"ppm", "ppb"},
	"volatile_organic_compounds":       {"µg/m³"},
	"illuminance":                      {"lx"},
	"voltage":                          {"V", "mV", "µV", "kV", "MV"},
	"current":                          {"A", "mA"},
	"power":                            {"mW", "W", "kW", "MW", "GW", "TW", "BTU/h"},
	"pm1":                              {"µg/m³"},
	"pm25":                             {"µg/m³"},
	"pm10":                             {"µg/m³"},
}

// haUnclassed are catalog fields Home Assistant has no device class for
// (resistance, UV index, fan speed): announced with their unit only.
var haUnclassed = []string{"gas_ohm", "resistance_ohm", "uv_index", "fan_rpm"}

// haStateClasses are Home Assistant's sensor state classes.
var haStateClasses = []string{"measurement", "total", "total_increasing"}

// haSensorKeys are the discovery keys Home Assistant's MQTT sensor knows (in
// their long form); anything else in a config is a typo it ignores.
var haSensorKeys = []string{
	"availability", "availability_mode", "availability_template", "availability_topic", "device",
	"device_class", "enabled_by_default", "encoding", "entity_category", "entity_picture", "expire_after",
	"force_update", "icon", "json_attributes_template", "json_attributes_topic", "last_reset_value_template",
	"name", "object_id", "default_entity_id", "options", "payload_available", "payload_not_available",
	"platform", "qos", "state_class", "state_topic", "suggested_display_precision", "unique_id",
	"unit_of_measurement", "value_template", "origin",
}

// haDeviceKeys are the keys of a discovery config's device map.
var haDeviceKeys = []string{
	"configuration_url", "connections", "hw_version", "identifiers", "manufacturer", "model", "model_id",
	"name", "serial_number", "suggested_area", "sw_version", "via_device",
}

// haDiscoveryTopic is Home Assistant's TOPIC_MATCHER (components/mqtt/
// discovery.py) applied after the prefix:
// <prefix>/<component>/[<node_id>/]<object_id>/config.
var haDiscoveryTopic = regexp.MustCompile(`^homeassistant/(\w+)/(?:([a-zA-Z0-9_-]+)/)?([a-zA-Z0-9_-]+)/config$`)

// valueJSONField is the one template form edgepub uses: a field of the
// reading's JSON object.
var valueJSONField = regexp.MustCompile(`^\{\{\s*value_json\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$`)

const haPrefix = "homeassistant"

// checkDiscovery holds one announced field against Home Assistant's MQTT
// sensor schema and against what edgepub really publishes: payload is a
// reading of the sensor as it goes out on the state topic.
func checkDiscovery(t *testing.T, device, sensor, field, topic string, cfg []byte, payload []byte, wantClass bool) {
	t.Helper()
	where := sensor + "/" + field
	m := haDiscoveryTopic.FindStringSubmatch(topic)
	switch {
	case m == nil:
		t.Errorf("%s: discovery topic %q does not match Home Assistant's <prefix>/<component>/[<node_id>/]<object_id>/config", where, topic)
	case m[1] != "sensor":
		t.Errorf("%s: component %q, want sensor", where, m[1])
	case m[2] != device:
		t.Errorf("%s: node_id %q is not the device id %q, so the ACL line %q does not admit it", where, m[2], device, DiscoveryACL(haPrefix))
	}
	if !aclAdmits(DiscoveryACL(haPrefix), device, topic) {
		t.Errorf("%s: %q is not writable under %q for user %s", where, topic, DiscoveryACL(haPrefix), device)
	}

	var doc map[string]any
	if err := json.Unmarshal(cfg, &doc); err != nil {
		t.Fatalf("%s: config %s is not a JSON object: %v", where, cfg, err)
	}
	for k := range doc {
		if !slices.Contains(haSensorKeys, k) {
			t.Errorf("%s: key %q is not an MQTT sensor option; Home Assistant ignores it", where, k)
		}
	}
	str := func(k string) string { s, _ := doc[k].(string); return s }
	for _, k := range []string{"state_topic", "unique_id", "availability_topic", "name"} {
		if str(k) == "" {
			t.Errorf("%s: %s missing or empty in %s", where, k, cfg)
		}
	}
	dev, _ := doc["device"].(map[string]any)
	ids, _ := dev["identifiers"].([]any)
	if len(ids) == 0 {
		t.Errorf("%s: device.identifiers missing: Home Assistant needs it (and unique_id) to group the entities into a device", where)
	}
	for k := range dev {
		if !slices.Contains(haDeviceKeys, k) {
			t.Errorf("%s: device key %q is unknown to Home Assistant", where, k)
		}
	}

	class, unit := str("device_class"), str("unit_of_measurement")
	if class == "" && wantClass {
		t.Errorf("%s: no device_class: map the field in the quantities table of internal/homeassistant", where)
	}
	if class != "" {
		units, known := haDeviceClassUnits[class]
		switch {
		case !known:
			t.Errorf("%s: device_class %q is not one of Home Assistant's sensor device classes listed here", where, class)
		case !slices.Contains(units, unit):
			t.Errorf("%s: unit %q is not valid for device_class %s (Home Assistant accepts %v)", where, unit, class, units)
		}
	}
	if sc := str("state_class"); !slices.Contains(haStateClasses, sc) {
		t.Errorf("%s: state_class %q, want one of %v", where, sc, haStateClasses)
	}

	if got, want := str("state_topic"), message.Topic(device, sensor); got != want {
		t.Errorf("%s: state_topic %q, but the readings go to %q", where, got, want)
	}
	if got, want := str("availability_topic"), device+"/status"; got != want {
		t.Errorf("%s: availability_topic %q, but presence goes to %q", where, got, want)
	}
	if str("payload_available") != "online" || str("payload_not_available") != "offline" {
		t.Errorf("%s: availability payloads %q/%q, but presence says online/offline", where, str("payload_available"), str("payload_not_available"))
	}

	tm := valueJSONField.FindStringSubmatch(str("value_template"))
	if tm == nil {
		t.Errorf("%s: value_template %q is not {{ value_json.<field> }}", where, str("value_template"))
		return
	}
	var reading map[string]any
	if err := json.Unmarshal(payload, &reading); err != nil {
		t.Fatalf("%s: reading %s: %v", where, payload, err)
	}
	if _, isNumber := reading[tm[1]].(float64); !isNumber {
		t.Errorf("%s: value_template reads value_json.%s, but the reading %s has no such number", where, tm[1], payload)
	}
}

// aclAdmits applies one Mosquitto "pattern readwrite" line for user to a
// topic: %u is replaced by the user name, then + and # match as in a
// subscription.
func aclAdmits(line, user, topic string) bool {
	pattern, ok := strings.CutPrefix(line, "pattern readwrite ")
	if !ok {
		return false
	}
	p := strings.Split(strings.ReplaceAll(pattern, "%u", user), "/")
	tl := strings.Split(topic, "/")
	for i, level := range p {
		switch {
		case level == "#":
			return true
		case i >= len(tl):
			return false
		case level != "+" && level != tl[i]:
			return false
		}
	}
	return len(p) == len(tl)
}

// sampleValues gives every field a plausible number, for drivers that
// cannot be read without their hardware.
func sampleValues(fields []string) sensors.Values {
	v := sensors.Values{}
	for i, f := range fields {
		v[f] = 20.5 + float64(i)
	}
	return v
}

// Every field that any driver in the catalog can report is announced in a
// form Home Assistant accepts: a valid topic the discovery ACL admits, the
// keys it needs, a device class with one of its units, a state class, and
// a template reading a field the real payload has. A new driver with an
// unmapped field fails here.
func TestDiscoveryForEveryCatalogField(t *testing.T) {
	const device = "Kai"
	now := time.Date(2026, 11, 26, 11, 0, 0, 0, time.UTC)
	uniqueIDs := map[string]string{}
	for _, ti := range catalog.Types() {
		values := sampleValues(ti.Fields)
		if real, ok := readSoftwareSensor(t, ti); ok {
			// The simulated and file-based sensors run here: their real
			// fields must be exactly what the catalog promises.
			got := slices.Sorted(maps.Keys(real))
			if want := slices.Sorted(slices.Values(ti.Fields)); !slices.Equal(got, want) {
				t.Errorf("%s reports %v, catalog.Types says %v", ti.Name, got, want)
			}
			values = real
		}
		sensor := ti.Name // a valid sensor name, as users often name them
		payload, err := message.Encode(device, 1, sensors.Reading{Sensor: sensor, Time: now, Values: values})
		if err != nil {
			t.Fatalf("%s: %v", ti.Name, err)
		}
		for _, field := range ti.Fields {
			topic, cfg := Discovery(haPrefix, device, "1.2.3", sensor, field)
			data, err := json.Marshal(cfg)
			if err != nil {
				t.Fatal(err)
			}
			checkDiscovery(t, device, sensor, field, topic, data, payload, !slices.Contains(haUnclassed, field))
			if other, dup := uniqueIDs[cfg.UniqueID]; dup {
				t.Errorf("unique_id %s is used by %s and %s/%s", cfg.UniqueID, other, sensor, field)
			}
			uniqueIDs[cfg.UniqueID] = sensor + "/" + field
		}
	}
	if len(uniqueIDs) < 20 {
		t.Errorf("only %d fields checked: catalog.Types lost its fields?", len(uniqueIDs))
	}
}

// ADC inputs get names from the user; those announced must still be valid
// pairs, and a name with no known unit suffix is announced without a unit
// rather than with a wrong one.
func TestDiscoveryForUserNamedADCFields(t *testing.T) {
	const device = "greenhouse-3"
	for _, field := range []string{"ain0_v", "battery_v", "soil_moisture_pct", "tank_level", "shunt_a", "pump_w",
		"probe_c", "duct_pressure_hpa", "co_ppm", "light_lux"} {
		payload, err := message.Encode(device, 1, sensors.Reading{Sensor: "adc", Time: time.Now(), Values: sensors.Values{field: 1.25}})
		if err != nil {
			t.Fatal(err)
		}
		topic, cfg := Discovery(haPrefix, device, "1.2.3", "adc", field)
		data, _ := json.Marshal(cfg)
		checkDiscovery(t, device, "adc", field, topic, data, payload, false)
	}
}

// Device ids made of Home Assistant's node_id characters are announced
// under exactly that id, which the ACL's %u admits.
func TestDiscoveryTopicIsAdmittedByTheACL(t *testing.T) {
	for _, device := range []string{"Kai", "pi-01", "garden_2", "A-b_9"} {
		topic, _ := Discovery(haPrefix, device, "", "environment", "temperature_c")
		if !aclAdmits(DiscoveryACL(haPrefix), device, topic) || !haDiscoveryTopic.MatchString(topic) {
			t.Errorf("device %s: topic %q (ACL %q)", device, topic, DiscoveryACL(haPrefix))
		}
		if other := "x" + device; aclAdmits(DiscoveryACL(haPrefix), other, topic) {
			t.Errorf("device %s may write %s's discovery topic %q", other, device, topic)
		}
	}
}

// readSoftwareSensor reads the catalog types that need no hardware: the
// simulations and the SoC thermometer (from a stand-in thermal zone file).
func readSoftwareSensor(t *testing.T, ti catalog.TypeInfo) (sensors.Values, bool) {
	t.Helper()
	spec := config.Sensor{Name: ti.Name, Type: ti.Name}
	switch {
	case strings.HasPrefix(ti.Name, "sim-"):
	case ti.Name == "soc":
		spec.Path = filepath.Join(t.TempDir(), "temp")
		if err := os.WriteFile(spec.Path, []byte("48312\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	default:
		return nil, false
	}
	s, err := catalog.Open(context.Background(), spec, nil)
	if err != nil {
		t.Fatalf("open %s: %v", ti.Name, err)
	}
	v, err := s.Sense(context.Background())
	if err != nil {
		t.Fatalf("read %s: %v", ti.Name, err)
	}
	return v, true
}

// Two devices whose ids differ only in characters Home Assistant's ids
// cannot carry stay two devices there.
func TestDiscoveryIDsDoNotCollide(t *testing.T) {
	seen := map[string]string{}
	for _, device := range []string{"Kai.1", "Kai_1", "Kai 1", "Kai-1", "Kai:1"} {
		topic, cfg := Discovery(haPrefix, device, "", "environment", "temperature_c")
		if !haDiscoveryTopic.MatchString(topic) {
			t.Errorf("device %q: topic %q is not a Home Assistant discovery topic", device, topic)
		}
		for _, id := range []string{topic, cfg.UniqueID, cfg.Device.Identifiers[0]} {
			if other, dup := seen[id]; dup {
				t.Errorf("devices %q and %q share %q", other, device, id)
			}
			seen[id] = device
		}
	}
}
