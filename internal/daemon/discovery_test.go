package daemon

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/edgepub/edgepub/config"
	"github.com/edgepub/edgepub/internal/homeassistant"
	"github.com/edgepub/edgepub/internal/mosquittotest"
	"github.com/edgepub/edgepub/internal/testutil"
	"github.com/edgepub/edgepub/internal/tutorialpki"
)

// valueJSONField is what a discovery config's value_template reads.
var valueJSONField = regexp.MustCompile(`^\{\{\s*value_json\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$`)

const haPrefix = "homeassistant"

// haConfig is what a late subscriber to the discovery prefix received.
type haConfig struct {
	topic, payload string
	retained       bool
}

func discoveryMessages(msgs []mosquittotest.Message) []haConfig {
	var out []haConfig
	for _, m := range msgs {
		if strings.HasPrefix(m.Topic, haPrefix+"/") {
			out = append(out, haConfig{m.Topic, m.Payload, m.Retained})
		}
	}
	return out
}

// haConfigForTest is a daemon config announcing to Home Assistant.
func haConfigForTest(t *testing.T, broker *mosquittotest.Broker, pki *tutorialpki.PKI) config.Config {
	cfg := testConfig(t, broker, pki.DeviceDir(t, "Kai"), t.TempDir())
	cfg.Presence.HomeAssistant = true
	cfg.Presence.DiscoveryPrefix = haPrefix
	return cfg
}

// With the discovery ACL line, the broker keeps every field's config
// retained: Home Assistant, subscribing any time later, finds them all,
// exactly as Discovery builds them and valid for the readings that arrive.
func TestDiscoveryArrivesWithTheACLLine(t *testing.T) {
	pki := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
	broker := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki, ACL: mosquittotest.SeedACL + homeassistant.DiscoveryACL(haPrefix) + "\n"})
	states := broker.Subscribe(t, "Kai/#", mosquittotest.SubOpts{ClientID: "states"})
	// Sees each config as it is published, so that Home Assistant can
	// subscribe once they are all stored: a config published after its
	// subscription would reach it live only, without the retained flag.
	announcements := broker.Subscribe(t, haPrefix+"/#", mosquittotest.SubOpts{ClientID: "announcements"})
	startDaemon(t, Opts{Config: haConfigForTest(t, broker, pki), Version: "1.2.3"})
	msgs := states.WaitFor(10*time.Second, "readings of both sensors", func(m []mosquittotest.Message) bool {
		return hasTopic(m, "Kai/sensors/environment") && hasTopic(m, "Kai/sensors/soc")
	})
	lastReading := map[string]string{} // sensor → a payload from its state topic
	for _, m := range msgs {
		if s, ok := strings.CutPrefix(m.Topic, "Kai/sensors/"); ok {
			lastReading[s] = m.Payload
		}
	}

	want := map[string]homeassistant.Config{}
	for sensor, fields := range map[string][]string{"environment": {"temperature_c", "humidity_pct", "pressure_hpa"}, "soc": {"soc_temperature_c"}} {
		for _, f := range fields {
			topic, cfg := homeassistant.Discovery(haPrefix, "Kai", "1.2.3", sensor, f)
			want[topic] = cfg
		}
	}
	announcements.WaitFor(10*time.Second, "a config for every field", func(m []mosquittotest.Message) bool {
		topics := map[string]bool{}
		for _, c := range discoveryMessages(m) {
			topics[c.topic] = true
		}
		return len(topics) >= len(want)
	})
	// Home Assistant comes later: it must find every config retained. The
	// daemon may still be announcing (again after a reconnect), so live
	// copies can arrive too; they must be right, but do not count.
	ha := broker.Subscribe(t, haPrefix+"/#", mosquittotest.SubOpts{ClientID: "home-assistant"})
	retained := func(m []mosquittotest.Message) map[string]bool {
		seen := map[string]bool{}
		for _, c := range discoveryMessages(m) {
			if c.retained {
				seen[c.topic] = true
			}
		}
		return seen
	}
	got := ha.WaitFor(10*time.Second, "a retained config for every field", func(m []mosquittotest.Message) bool {
		return len(retained(m)) >= len(want)
	})
	seen := retained(got)
	for _, c := range discoveryMessages(got) {
		w, ok := want[c.topic]
		if !ok {
			t.Errorf("unexpected discovery topic %s", c.topic)
			continue
		}
		var cfg homeassistant.Config
		if err := json.Unmarshal([]byte(c.payload), &cfg); err != nil {
			t.Fatalf("%s: %v", c.topic, err)
		}
		if !jsonEqual(t, c.payload, w) {
			t.Errorf("%s carries %s, want %+v", c.topic, c.payload, w)
		}
		// The config's template must find its number in the readings
		// that really arrive; internal/homeassistant checks the rest.
		sensor := strings.TrimPrefix(cfg.StateTopic, "Kai/sensors/")
		m := valueJSONField.FindStringSubmatch(cfg.ValueTemplate)
		var reading map[string]any
		if err := json.Unmarshal([]byte(lastReading[sensor]), &reading); err != nil || m == nil {
			t.Errorf("%s: template %q, reading %s: %v", c.topic, cfg.ValueTemplate, lastReading[sensor], err)
		} else if _, isNumber := reading[m[1]].(float64); !isNumber {
			t.Errorf("%s: value_template reads value_json.%s, but the reading %s has no such number", c.topic, m[1], lastReading[sensor])
		}
	}
	if len(seen) != len(want) {
		t.Errorf("got configs for %d of %d fields", len(seen), len(want))
	}
	if !hasMessage(states.Messages(), "Kai/status", "online") {
		t.Error("the availability topic never said online")
	}
}

// Without the ACL line the broker refuses every config (and says so in its
// log), the configs never arrive, and the device's connection and readings
// carry on regardless.
func TestDiscoveryWithoutTheACLLineNeverArrives(t *testing.T) {
	pki := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
	broker := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki, Extra: []string{"log_type debug"}})
	ha := broker.Subscribe(t, haPrefix+"/#", mosquittotest.SubOpts{ClientID: "home-assistant"})
	states := broker.Subscribe(t, "Kai/#", mosquittotest.SubOpts{ClientID: "states"})
	r := startDaemon(t, Opts{Config: haConfigForTest(t, broker, pki), Version: "1.2.3"})

	// The configs go out when each field is first seen, one per field: once
	// the broker has logged a refusal for all four, none is left to pass.
	testutil.Eventually(t, 10*time.Second, "the broker logged 4 refused discovery publishes", func() bool {
		return strings.Count(broker.Log(), "Denied PUBLISH from Kai") >= 4
	})
	states.WaitFor(10*time.Second, "40 readings", func(m []mosquittotest.Message) bool { return len(readings(t, m, "Kai")) >= 40 })
	for _, line := range strings.Split(broker.Log(), "\n") {
		if strings.Contains(line, "Denied PUBLISH from Kai") && !strings.Contains(line, "'"+haPrefix+"/sensor/Kai/") {
			t.Errorf("a publish other than discovery was refused: %s", line)
		}
	}
	if got := discoveryMessages(ha.Messages()); len(got) > 0 {
		t.Errorf("%d discovery configs arrived without the ACL line: %v", len(got), got)
	}
	if h := r.d.Health(); !h.Connected || h.Reconnects != 0 {
		t.Errorf("refused discovery publishes disturbed the connection: connected=%v reconnects=%d", h.Connected, h.Reconnects)
	}
	if t.Failed() {
		t.Logf("broker log:\n%s", broker.Log())
	}
}

// jsonEqual compares a received JSON document with the value that should
// have been marshalled into it.
func jsonEqual(t *testing.T, got string, want any) bool {
	t.Helper()
	w, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	var a, b any
	if json.Unmarshal([]byte(got), &a) != nil || json.Unmarshal(w, &b) != nil {
		return false
	}
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
