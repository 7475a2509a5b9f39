package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgepub/edgepub/internal/mosquittotest"
)

// deviceConfig is a config for the presence and failover tests: the given
// brokers in order, keepalive 5 s, both simulated sensors read every
// interval (with half of it as their timeout), health every healthEvery
// (0: off).
func deviceConfig(urls []string, certDir, stateDir string, backoffMin, backoffMax, interval, healthEvery time.Duration) string {
	quoted := make([]string, len(urls))
	for i, u := range urls {
		quoted[i] = fmt.Sprintf("%q", u)
	}
	return fmt.Sprintf(`broker:
  urls: [%s]
  keepalive: 5s
  connect_timeout: 3s
  backoff_min: %s
  backoff_max: %s
  start_jitter: 0s
certs:
  dir: %q
state_dir: %q
presence:
  health_interval: %s
sensors:
  - {name: environment, type: sim-bme280, interval: %[7]s, timeout: %[8]s}
  - {name: soc, type: sim-soc, interval: %[7]s, timeout: %[8]s}
`, strings.Join(quoted, ", "), backoffMin, backoffMax, certDir, stateDir, healthEvery, interval, interval/2)
}

// presenceKeepalive is deviceConfig's. Mosquitto drops a silent client
// once more than 1.5 times the keepalive the client announced has passed,
// but 2.0 looks only every 6 s, in whole seconds (src/keepalive.c:
// "last_keepalive_check + 5 < db.now_s"): that is why edgepub announces
// half its keepalive, and why a frozen device's will may come up to
// mosquittoKeepaliveCheck after 1.5 announced keepalives.
const (
	presenceKeepalive       = 5 * time.Second
	mosquittoKeepaliveCheck = 6 * time.Second
)

var announcedKeepalive = regexp.MustCompile(`New client connected from \S+ as Kai \(p\d, c\d, k(\d+)`)

// statusAfter reports whether the status topic carried payload among the
// messages after the first n.
func statusAfter(msgs []mosquittotest.Message, n int, payload string) bool {
	for _, m := range msgs[min(n, len(msgs)):] {
		if m.Topic == "Kai/status" && m.Payload == payload {
			return true
		}
	}
	return false
}

// retainedStatus subscribes anew, as a dashboard starting later would, and
// returns the status the broker kept.
func retainedStatus(t *testing.T, broker *mosquittotest.Broker, id string) mosquittotest.Message {
	t.Helper()
	sub := broker.Subscribe(t, "Kai/status", mosquittotest.SubOpts{ClientID: id})
	defer sub.Stop()
	msgs := sub.WaitFor(5*time.Second, "the retained status", func(m []mosquittotest.Message) bool { return len(m) > 0 })
	return msgs[0]
}

// A running device is "online", retained, for anyone subscribing later.
// When it dies (SIGKILL: the kernel closes its socket) or freezes (SIGSTOP:
// the socket stays open and only the keepalive can tell), the broker
// publishes its last will, a retained "offline", within 1.5 keepalives.
func TestPresenceLastWillWhenKilledOrFrozen(t *testing.T) {
	pki := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
	broker := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki})
	live := broker.Subscribe(t, "Kai/status", mosquittotest.SubOpts{ClientID: "live"})
	certDir, stateDir := pki.DeviceDir(t, "Kai"), t.TempDir()
	config := writeConfig(t, deviceConfig([]string{broker.URL()}, certDir, stateDir, 100*time.Millisecond, time.Second, 100*time.Millisecond, 0))

	for _, c := range []struct {
		name   string
		signal syscall.Signal
	}{{"killed", syscall.SIGKILL}, {"frozen", syscall.SIGSTOP}} {
		n := len(live.Messages())
		d := startDaemonProc(t, "", config)
		live.WaitFor(10*time.Second, c.name+": online", func(m []mosquittotest.Message) bool { return statusAfter(m, n, "online") })
		if got := retainedStatus(t, broker, "late-online-"+c.name); got.Payload != "online" || !got.Retained {
			t.Errorf("%s: a late subscriber got %+v, want a retained online", c.name, got)
		}

		m := announcedKeepalive.FindAllStringSubmatch(broker.Log(), -1)
		if m == nil {
			t.Fatalf("no connect of Kai in the broker log:\n%s", broker.Log())
		}
		k, _ := strconv.Atoi(m[len(m)-1][1])
		announced := time.Duration(k) * time.Second
		if announced*3/2 > presenceKeepalive*3/2 {
			t.Errorf("edgepub announced keepalive %v for its %v: the broker gives up on it only after %v", announced, presenceKeepalive, announced*3/2)
		}
		within := announced*3/2 + mosquittoKeepaliveCheck + time.Second

		n = len(live.Messages())
		start := time.Now()
		d.Send(c.signal)
		live.WaitFor(within+time.Second, c.name+": the last will", func(m []mosquittotest.Message) bool {
			return statusAfter(m, n, "offline")
		})
		took := time.Since(start)
		t.Logf("%s: last will after %v (keepalive %v, announced %v)", c.name, took.Round(time.Millisecond), presenceKeepalive, announced)
		if took > within {
			t.Errorf("%s: the last will came after %v, want within 1.5 × %v + Mosquitto's %v check period", c.name, took.Round(time.Millisecond), announced, mosquittoKeepaliveCheck)
		}
		if got := retainedStatus(t, broker, "late-offline-"+c.name); got.Payload != "offline" || !got.Retained {
			t.Errorf("%s: a late subscriber got %+v, want a retained offline", c.name, got)
		}
		d.Kill()
	}
	if !strings.Contains(broker.Log(), "Client Kai has exceeded timeout") {
		t.Errorf("the frozen device was not timed out by the broker's keepalive check:\n%s", broker.Log())
	}
}

// A clean stop (SIGTERM) disconnects properly, so the broker drops the will;
// edgepub publishes the retained "offline" itself before it goes.
func TestPresenceOfflineOnCleanStop(t *testing.T) {
	pki := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
	broker := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki})
	live := broker.Subscribe(t, "Kai/status", mosquittotest.SubOpts{ClientID: "live"})
	config := writeConfig(t, deviceConfig([]string{broker.URL()}, pki.DeviceDir(t, "Kai"), t.TempDir(), 100*time.Millisecond, time.Second, 100*time.Millisecond, 0))
	d := startDaemonProc(t, "", config)
	live.WaitFor(10*time.Second, "online", func(m []mosquittotest.Message) bool { return statusAfter(m, 0, "online") })

	n := len(live.Messages())
	stopWithin(t, d, 2*time.Second)
	live.WaitFor(5*time.Second, "offline after SIGTERM", func(m []mosquittotest.Message) bool { return statusAfter(m, n, "offline") })
	// "disconnected." is Mosquitto's line for a DISCONNECT packet, after
	// which it discards the will: the offline came from edgepub.
	if log := broker.Log(); !strings.Contains(log, "Client Kai disconnected.") {
		t.Errorf("edgepub did not disconnect cleanly:\n%s", log)
	}
	if got := retainedStatus(t, broker, "late"); got.Payload != "offline" || !got.Retained {
		t.Errorf("a late subscriber got %+v, want a retained offline", got)
	}
}

// The retained health message carries every field an operator needs, with
// sane values, from the real binary with the simulated sensors; after a
// broker restart it counts the reconnect.
func TestHealthMessageFields(t *testing.T) {
	pki := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
	broker := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki})
	config := writeConfig(t, deviceConfig([]string{broker.URL()}, pki.DeviceDir(t, "Kai"), t.TempDir(), 100*time.Millisecond, time.Second, 100*time.Millisecond, time.Second))
	sub := broker.Subscribe(t, "Kai/health", mosquittotest.SubOpts{ClientID: "health"})
	started := time.Now()
	d := startDaemonProc(t, "", config)

	var h map[string]any
	sub.WaitFor(10*time.Second, "a health message with both sensors read and readings delivered", func(m []mosquittotest.Message) bool {
		if len(m) == 0 {
			return false
		}
		h = decodeHealth(t, m[len(m)-1].Payload)
		ss, _ := h["sensors"].([]any)
		delivered, _ := h["delivered"].(float64)
		return len(ss) == 2 && delivered > 0 && h["soc_temperature_c"] != nil && allRead(ss)
	})
	for _, key := range []string{"device", "version", "time", "uptime_s", "broker", "connected", "reconnects", "delivered",
		"backlog", "oldest_age_s", "dropped", "cert_days_left", "certs", "soc_temperature_c", "sensors"} {
		if _, ok := h[key]; !ok {
			t.Errorf("health has no %s: %v", key, h)
		}
	}
	num := func(k string) float64 { v, _ := h[k].(float64); return v }
	if h["device"] != "Kai" || h["version"] == "" || h["broker"] != broker.URL() || h["connected"] != true {
		t.Errorf("health identity/connection: device=%v version=%v broker=%v connected=%v", h["device"], h["version"], h["broker"], h["connected"])
	}
	if at, err := time.Parse(time.RFC3339, fmt.Sprint(h["time"])); err != nil || time.Since(at).Abs() > 5*time.Second {
		t.Errorf("health time %v (err %v) is not now", h["time"], err)
	}
	if up := num("uptime_s"); up < 0 || up > time.Since(started).Seconds()+1 {
		t.Errorf("uptime_s = %v, edgepub started %v ago", up, time.Since(started).Round(time.Second))
	}
	if b, age := num("backlog"), num("oldest_age_s"); b < 0 || b > 100 || age < 0 || age > 5 {
		t.Errorf("backlog %v, oldest_age_s %v while connected and reading 20 times a second", b, age)
	}
	if num("dropped") != 0 || num("reconnects") != 0 {
		t.Errorf("dropped %v, reconnects %v on a healthy first connection", num("dropped"), num("reconnects"))
	}
	// Seed certificates are made with -days 825; the CA lasts longer.
	if days := num("cert_days_left"); days < 823 || days > 825 {
		t.Errorf("cert_days_left = %v, want about 824 for fresh seed certificates", days)
	}
	if c := num("soc_temperature_c"); c < 30 || c > 85 {
		t.Errorf("soc_temperature_c = %v, outside the simulated SoC's 30-85 °C", c)
	}
	for _, s := range h["sensors"].([]any) {
		s := s.(map[string]any)
		// A read may time out now and then on a loaded machine; the
		// count must then agree with the last error.
		errs, hasErrs := s["errors"].(float64)
		last, _ := time.Parse(time.RFC3339, fmt.Sprint(s["last_success"]))
		if !hasErrs || errs < 0 || (errs > 0) != (s["last_error"] != nil) || s["failing"] != false || time.Since(last) > 5*time.Second {
			t.Errorf("sensor status %v: want an error count that matches last_error, not failing, read within 5s", s)
		}
	}
	certs, _ := h["certs"].([]any)
	kinds := map[string]bool{}
	for _, c := range certs {
		kinds[fmt.Sprint(c.(map[string]any)["cert"])] = true
	}
	if !kinds["client"] || !kinds["ca"] || !kinds["broker"] {
		t.Errorf("health lists certificates %v, want client, ca and broker", kinds)
	}

	broker.Restart()
	sub.WaitFor(15*time.Second, "health counting the reconnect", func(m []mosquittotest.Message) bool {
		last := decodeHealth(t, m[len(m)-1].Payload)
		return last["reconnects"] == 1.0 && last["connected"] == true
	})
	late := broker.Subscribe(t, "Kai/health", mosquittotest.SubOpts{ClientID: "late"})
	first := late.WaitFor(5*time.Second, "retained health", func(m []mosquittotest.Message) bool { return len(m) > 0 })[0]
	if !first.Retained {
		t.Error("health is not retained: a dashboard starting later sees nothing until the next interval")
	}
	stopWithin(t, d, 2*time.Second)
}

func decodeHealth(t *testing.T, payload string) map[string]any {
	t.Helper()
	var h map[string]any
	if err := json.Unmarshal([]byte(payload), &h); err != nil {
		t.Fatalf("health %q is not JSON: %v", payload, err)
	}
	return h
}

func allRead(sensors []any) bool {
	for _, s := range sensors {
		if m, _ := s.(map[string]any); m["last_success"] == nil {
			return false
		}
	}
	return true
}
