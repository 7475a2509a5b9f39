package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/edgepub/edgepub/fleet"
	"github.com/edgepub/edgepub/internal/edgepubproc"
	"github.com/edgepub/edgepub/internal/mosquittotest"
	"github.com/edgepub/edgepub/internal/testutil"
)

// fleetOnce runs `edgepub fleet --once --json` and returns the devices and
// the exit code.
func fleetOnce(t *testing.T, broker *mosquittotest.Broker, certDir string) ([]fleet.Device, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(edgepubBinary(t), "fleet", "--once", "--json", "--wait", "3s", "--broker", broker.URL(), "--cert-dir", certDir)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	var devices []fleet.Device
	if err := json.Unmarshal(stdout.Bytes(), &devices); err != nil {
		t.Fatalf("fleet --once --json: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	return devices, cmd.ProcessState.ExitCode()
}

func byName(devices []fleet.Device) map[string]fleet.Device {
	out := make(map[string]fleet.Device, len(devices))
	for _, d := range devices {
		out[d.Device] = d
	}
	return out
}

// scrape reads the console's /metrics with Prometheus' own parser and
// returns each series' value by metric name and device (plus the label
// that tells series of one device apart, if any).
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil // not listening yet
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	out := map[string]float64{}
	for name, mf := range families {
		for _, m := range mf.GetMetric() {
			key := name
			for _, l := range m.GetLabel() {
				key += fmt.Sprintf(",%s=%s", l.GetName(), l.GetValue())
			}
			out[key] = value(mf.GetType(), m)
		}
	}
	return out
}

func value(ty dto.MetricType, m *dto.Metric) float64 {
	if ty == dto.MetricType_COUNTER {
		return m.GetCounter().GetValue()
	}
	return m.GetGauge().GetValue()
}

func waitMetrics(t *testing.T, addr, what string, timeout time.Duration, ok func(map[string]float64) bool) map[string]float64 {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		m := scrape(t, addr)
		if m != nil && ok(m) {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("within %v, /metrics never showed %s; last scrape:\n%v", timeout, what, m)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Several real devices, each with its own certificate, one console with
// the monitor identity: --once --json lists them; the metrics carry their
// state; a SIGKILLed device turns offline; a seq gap counts as missing,
// a declared jump (a real one after a damaged lease, and one a test
// publisher declares) does not.
func TestFleetConsole(t *testing.T) {
	devices := []string{"Ann", "Bob", "Cid"}
	pki := mosquittotest.NewSeedPKI(t, "127.0.0.1", append(devices, "Dan")...)
	broker := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki})
	monitorDir := pki.DeviceDir(t, "monitor")

	// The live console exists before the devices publish.
	addr := "127.0.0.1:" + strconv.Itoa(mosquittotest.FreePort(t))
	console := startFleetProc(t, "--listen", addr, "--settle", "5s", "--broker", broker.URL(), "--cert-dir", monitorDir)
	waitMetrics(t, addr, "the console serving", 20*time.Second, func(map[string]float64) bool { return true })

	procs := map[string]*edgepubproc.Proc{}
	configs := map[string]string{}
	stateDirs := map[string]string{}
	for _, name := range devices {
		stateDirs[name] = t.TempDir()
		configs[name] = writeConfig(t, deviceConfig([]string{broker.URL()}, pki.DeviceDir(t, name), stateDirs[name],
			100*time.Millisecond, time.Second, 200*time.Millisecond, time.Second))
		procs[name] = startDaemonProc(t, "", configs[name])
	}
	waitMetrics(t, addr, "every device online with readings and a health message", 30*time.Second, func(m map[string]float64) bool {
		for _, name := range devices {
			if m["edgepub_device_online,device="+name] != 1 || m["edgepub_device_readings_total,device="+name] < 5 ||
				m["edgepub_device_cert_days_left,cert=client,device="+name] == 0 {
				return false
			}
		}
		return true
	})

	got, code := fleetOnce(t, broker, monitorDir)
	if code != 0 {
		t.Errorf("fleet --once exited %d with every device well, want 0: %+v", code, got)
	}
	if len(got) != len(devices) {
		t.Fatalf("fleet --once listed %d devices, want %d: %+v", len(got), len(devices), got)
	}
	for _, name := range devices {
		d, ok := byName(got)[name]
		switch {
		case !ok:
			t.Errorf("%s missing from --once --json", name)
		case !d.Online || d.LastSeen == nil || d.Version == "" || d.Missing != 0 || len(d.FailingSensors) != 0 || d.Readings == 0:
			t.Errorf("%s: %+v, want online, seen, a version, readings, nothing missing or failing", name, d)
		case d.CertDaysLeft == nil || *d.CertDaysLeft < 823 || *d.CertDaysLeft > 825:
			// mosquittotest issues client certificates for 825 days; its CA lives 1825.
			t.Errorf("%s: cert days left %v, want 824 (the client certificate's 825 days)", name, d.CertDaysLeft)
		case d.CertsDaysLeft["broker"] < 823 || d.CertsDaysLeft["ca"] < 1823:
			t.Errorf("%s: certificate days %v, want broker 824 and ca 1824", name, d.CertsDaysLeft)
		}
	}
	// The raw JSON carries the agreed keys. The certificates are laid out
	// as edgepub-fleet.service gets them: systemd credentials named
	// monitor_<file>.
	credDir := t.TempDir()
	for _, f := range []string{"ca.crt", "monitor.crt", "monitor.key"} {
		data, err := os.ReadFile(filepath.Join(monitorDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(credDir, "monitor_"+f), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command(edgepubBinary(t), "fleet", "--once", "--json", "--wait", "2s", "--broker", broker.URL(), "--cert-dir", credDir, "--cert-prefix", "monitor_").Output()
	var raw []map[string]any
	if jerr := json.Unmarshal(out, &raw); jerr != nil || len(raw) == 0 {
		t.Fatalf("fleet --once --json --cert-prefix monitor_: %v, %v\n%s", err, jerr, out)
	}
	for _, key := range []string{"device", "online", "last_seen", "cert_days_left", "backlog", "missing", "duplicates", "failing_sensors", "version"} {
		if _, ok := raw[0][key]; !ok {
			t.Errorf("--json object has no %q: %v", key, raw[0])
		}
	}

	// A declared jump: Ann stops, its lease is damaged, so it skips
	// 10,000 seqs on start and declares them in its health message.
	stopWithin(t, procs["Ann"], 10*time.Second)
	lease := filepath.Join(stateDirs["Ann"], "outbox", "lease")
	var info os.FileInfo
	info, err = os.Stat(lease)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lease, make([]byte, info.Size()), 0o600); err != nil {
		t.Fatal(err)
	}
	before := scrape(t, addr)["edgepub_device_readings_total,device=Ann"]
	procs["Ann"] = startDaemonProc(t, "", configs["Ann"])
	procs["Ann"].WaitLog("outbox seq jumped", 10*time.Second)
	waitMetrics(t, addr, "Ann back with new readings", 30*time.Second, func(m map[string]float64) bool {
		return m["edgepub_device_online,device=Ann"] == 1 && m["edgepub_device_readings_total,device=Ann"] > before+5
	})

	// A gap and a declared jump from a test publisher with Dan's certificate.
	pub := func(topic, payload string, extra ...string) {
		if out, err := broker.Publish(t, "Dan", topic, payload, extra...); err != nil {
			t.Fatalf("mosquitto_pub %s: %v\n%s", topic, err, out)
		}
	}
	pub("Dan/status", "online", "-r")
	pub("Dan/health", `{"device":"Dan","version":"test","time":"`+time.Now().UTC().Format(time.RFC3339)+`","sensors":[{"name":"t","failing":true}],"seq_skipped":[{"first":4,"last":9,"reason":"test"}]}`, "-r")
	for _, seq := range []int{1, 2, 3, 10, 11, 13, 13} {
		pub("Dan/sensors/t", fmt.Sprintf(`{"device":"Dan","sensor":"t","seq":%d,"time":"%s","x":1}`, seq, time.Now().UTC().Format(time.RFC3339)))
	}

	// SIGKILL: the broker publishes Bob's last will.
	procs["Bob"].Send(syscall.SIGKILL)
	m := waitMetrics(t, addr, "Bob offline and Dan's gap settled", 30*time.Second, func(m map[string]float64) bool {
		return m["edgepub_device_online,device=Bob"] == 0 && m["edgepub_device_readings_missing_total,device=Dan"] > 0
	})
	for key, want := range map[string]float64{
		"edgepub_device_readings_missing_total,device=Dan":            1, // 12; 4-9 were declared
		"edgepub_device_readings_duplicate_total,device=Dan":          1, // the second 13
		"edgepub_device_readings_total,device=Dan":                    7,
		"edgepub_device_readings_missing_total,device=Ann":            0, // 10,000 declared skipped
		"edgepub_device_readings_missing_total,device=Cid":            0,
		"edgepub_device_online,device=Ann":                            1,
		"edgepub_device_online,device=Cid":                            1,
		"edgepub_device_sensor_failing,device=Dan,sensor=t":           1,
		"edgepub_device_sensor_failing,device=Cid,sensor=environment": 0,
		"edgepub_device_info,device=Dan,version=test":                 1,
	} {
		if got, ok := m[key]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", key, got, ok, want)
		}
	}
	for _, name := range devices {
		for _, key := range []string{"edgepub_device_last_seen_timestamp_seconds,device=" + name, "edgepub_device_backlog_readings,device=" + name} {
			if _, ok := m[key]; !ok {
				t.Errorf("/metrics has no %s", key)
			}
		}
		if d := m["edgepub_device_last_seen_timestamp_seconds,device="+name]; time.Since(time.Unix(int64(d), 0)) > time.Minute {
			t.Errorf("%s last seen %v, want within the last minute", name, time.Unix(int64(d), 0))
		}
	}

	got, code = fleetOnce(t, broker, monitorDir)
	if code == 0 {
		t.Errorf("fleet --once exited 0 with Bob offline")
	}
	all := byName(got)
	if bob := all["Bob"]; bob.Online || !bob.StatusKnown {
		t.Errorf("Bob: %+v, want offline", bob)
	}
	if got[0].Device != "Bob" {
		t.Errorf("first device %s, want the offline Bob first", got[0].Device)
	}
	if ann := all["Ann"]; !ann.Online || ann.Missing != 0 {
		t.Errorf("Ann after its declared jump: %+v, want online with nothing missing", ann)
	}
	console.stopWithin(t, 5*time.Second)
}

// fleetProc is `edgepub fleet` running as a process.
type fleetProc struct {
	cmd  *exec.Cmd
	done chan struct{}
	log  testutil.Buffer
}

// startFleetProc runs `edgepub fleet` with the given flags; the test's
// cleanup kills it.
func startFleetProc(t *testing.T, args ...string) *fleetProc {
	t.Helper()
	p := &fleetProc{done: make(chan struct{})}
	p.cmd = exec.Command(edgepubBinary(t), append([]string{"fleet"}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = &p.log, &p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("edgepub fleet log:\n%s", p.log.String())
		}
	})
	return p
}

// stopWithin sends SIGTERM and wants a clean exit within limit.
func (p *fleetProc) stopWithin(t *testing.T, limit time.Duration) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(limit):
		t.Fatalf("edgepub fleet did not stop within %v of SIGTERM", limit)
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("edgepub fleet exited with %d after SIGTERM", code)
	}
}

func TestFleetFlagErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"fleet", "--once", "--listen", "127.0.0.1:0"}, "exclude each other"},
		{[]string{"fleet", "--once", "--broker", "ssl://127.0.0.1:1", "--cert-dir", filepath.Join(t.TempDir(), "none")}, "none"},
		{[]string{"fleet", "--once", "--broker", "http://127.0.0.1:1"}, "http://127.0.0.1:1"},
	} {
		var stdout, stderr bytes.Buffer
		err := run(t.Context(), c.args, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one naming %q", c.args, err, c.want)
		}
	}
}
