package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgepub/edgepub/internal/daemon"
	"github.com/edgepub/edgepub/internal/mosquittotest"
	"github.com/edgepub/edgepub/internal/testutil"
)

func runCmd(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	err = run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), err
}

// Every command of the tree answers -h on stdout with exit status 0, and
// help lists every visible one.
func TestDashHOnEveryCommand(t *testing.T) {
	top, _, err := runCmd(t, "help")
	if err != nil {
		t.Fatal(err)
	}
	var walk func(c command, path []string)
	walk = func(c command, path []string) {
		for _, s := range c.subs {
			p := append(append([]string(nil), path...), s.name)
			if s.run == nil && s.subs == nil {
				continue // help itself
			}
			if !s.hidden && len(path) == 0 && !strings.Contains(top, "edgepub "+s.name) {
				t.Errorf("help does not list %s:\n%s", s.name, top)
			}
			out, _, err := runCmd(t, append(p, "-h")...)
			if err != nil || !strings.Contains(out, "edgepub "+strings.Join(p, " ")) {
				t.Errorf("%s -h: err %v, output:\n%s", strings.Join(p, " "), err, out)
			}
			walk(s, p)
		}
	}
	walk(commands(), nil)
	out, _, err := runCmd(t, "help", "run")
	if err != nil || !strings.Contains(out, "--simulate") || !strings.Contains(out, "--cert-dir DIR") {
		t.Errorf("help run: %v\n%s", err, out)
	}
}

func TestUnknownCommand(t *testing.T) {
	_, stderr, err := runCmd(t, "publish")
	if err != exitCode(exitUsage) || !strings.Contains(stderr, `unknown command "publish"`) {
		t.Errorf("err %v, stderr %q", err, stderr)
	}
}

func TestVersion(t *testing.T) {
	out, _, err := runCmd(t, "version")
	if err != nil || !strings.Contains(out, "go1.") {
		t.Errorf("version: %v %q", err, out)
	}
}

func TestRunRefusesBadConfig(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope.yaml")
	if _, _, err := runCmd(t, "run", "--config", missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing named config: %v", err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("broker:\n  urls: [ssl://127.0.0.1:8883]\n  keepalive: forever\n"), 0o600)
	if _, _, err := runCmd(t, "run", "--config", bad); err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("bad config: %v", err)
	}
	if _, _, err := runCmd(t, "run", "--config", bad, "--broker", "tcp://127.0.0.1:1883"); err == nil {
		t.Error("plain tcp broker accepted")
	}
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("broker:\n  urls: [ssl://127.0.0.1:1]\n"), 0o600)
	_, _, err := runCmd(t, "run", "--config", good, "--cert-dir", filepath.Join(dir, "no-certs"), "--state-dir", dir)
	if err == nil || !strings.Contains(err.Error(), "no-certs") {
		t.Errorf("missing cert dir: %v", err)
	}
}

// The README's first command: with nothing installed, the demo shows
// readings arriving at a subscriber and stops cleanly.
func TestDemoSmoke(t *testing.T) {
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	if err := run(ctx, []string{"demo", "--duration", "3s", "--interval", "200ms"}, &out, &errb); err != nil {
		t.Fatalf("demo: %v\n%s", err, errb.String())
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("demo took %v to stop", took)
	}
	var seqs []int
	for _, line := range strings.Split(out.String(), "\n") {
		_, msg, ok := strings.Cut(line, "subscriber ← demo-pi/sensors/")
		if !ok {
			continue
		}
		_, payload, _ := strings.Cut(msg, " ")
		var r struct{ Seq int }
		if err := json.Unmarshal([]byte(payload), &r); err != nil {
			t.Fatalf("payload %q: %v", payload, err)
		}
		seqs = append(seqs, r.Seq)
	}
	if len(seqs) < 5 {
		t.Fatalf("only %d readings received:\n%s\n%s", len(seqs), out.String(), errb.String())
	}
	for i, s := range seqs {
		if s != i+1 {
			t.Fatalf("seqs not consecutive: %v", seqs)
		}
	}
	if !strings.Contains(out.String(), "demo-pi/status offline") {
		t.Error("no clean offline status at the end")
	}
}

func TestSensorsReadAndScan(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(cfg, []byte("sensors:\n  - {name: room, type: sim-bme280, seed: 3}\n"), 0o600)
	out, _, err := runCmd(t, "sensors", "read", "room", "--config", cfg)
	if err != nil || !strings.Contains(out, "temperature_c") || !strings.Contains(out, "pressure_hpa") {
		t.Errorf("sensors read: %v\n%s", err, out)
	}
	if _, _, err := runCmd(t, "sensors", "read", "attic", "--config", cfg); err == nil || !strings.Contains(err.Error(), "room") {
		t.Errorf("unknown sensor: %v", err)
	}
	w1 := t.TempDir()
	os.MkdirAll(filepath.Join(w1, "28-0316a2799bff"), 0o755)
	os.MkdirAll(filepath.Join(w1, "w1_bus_master1"), 0o755)
	out, _, err = runCmd(t, "sensors", "scan", "--bus", "", "--w1", w1)
	if err != nil || !strings.Contains(out, "28-0316a2799bff") || !strings.Contains(out, "ds18b20") {
		t.Errorf("sensors scan: %v\n%s", err, out)
	}
	// A DHT22 under the kernel's dht11 driver, as its overlay names it.
	iioDir := t.TempDir()
	os.MkdirAll(filepath.Join(iioDir, "iio:device0"), 0o755)
	for name, v := range map[string]string{"name": "dht11@4", "in_temp_input": "21300", "in_humidityrelative_input": "55100"} {
		os.WriteFile(filepath.Join(iioDir, "iio:device0", name), []byte(v+"\n"), 0o644)
	}
	out, _, err = runCmd(t, "sensors", "scan", "--bus", "", "--w1", "", "--iio", iioDir, "--hwmon", "")
	if err != nil || !strings.Contains(out, "type: dht11") || !strings.Contains(out, `match: "dht11"`) {
		t.Errorf("sensors scan of IIO devices: %v\n%s", err, out)
	}
	_, stderr, err := runCmd(t, "sensors", "scan", "--bus", "/dev/i2c-99", "--w1", "")
	if err == nil || !strings.Contains(stderr, "/dev/i2c-99") || !strings.Contains(stderr, "i2c_arm=on") {
		t.Errorf("scan of a missing bus: %v %q", err, stderr)
	}
}

func TestCertsInitThenInspect(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	out, _, err := runCmd(t, "certs", "init", dir, "--host", "127.0.0.1", "--client", "Kai", "--client", "Bob")
	if err != nil || !strings.Contains(out, "Kai.crt") || !strings.Contains(strings.ToLower(out), "ca.key") {
		t.Fatalf("certs init: %v\n%s", err, out)
	}
	if _, _, err := runCmd(t, "certs", "init", dir, "--host", "127.0.0.1", "--client", "Kai"); err == nil {
		t.Error("certs init overwrote existing files without --force")
	}
	// Two client pairs: the daemon could not choose, so inspect fails.
	out, _, err = runCmd(t, "certs", "inspect", dir)
	if err != exitCode(exitFailure) || !strings.Contains(out, "NOT USABLE") || !strings.Contains(out, "127.0.0.1") {
		t.Errorf("certs inspect: %v\n%s", err, out)
	}
	one := filepath.Join(t.TempDir(), "one")
	if _, _, err := runCmd(t, "certs", "init", one, "--host", "127.0.0.1", "--client", "Kai"); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(one, "server.crt"))
	os.Remove(filepath.Join(one, "server.key"))
	out, _, err = runCmd(t, "certs", "inspect", one, "--json")
	if err != nil || !json.Valid([]byte(out)) || !strings.Contains(out, `"identity": "Kai"`) {
		t.Errorf("certs inspect --json: %v\n%s", err, out)
	}
}

func TestUserStateDir(t *testing.T) {
	for _, tc := range []struct{ xdg, home, want string }{
		{"/run/user/1000/state", "/home/kai", "/run/user/1000/state/edgepub"},
		{"", "/home/kai", "/home/kai/.local/state/edgepub"},
		{"relative/ignored", "/home/kai", "/home/kai/.local/state/edgepub"}, // the spec says relative paths are invalid
		{"", "", "/var/lib/edgepub"},
	} {
		if got := userStateDir(tc.xdg, tc.home); got != tc.want {
			t.Errorf("userStateDir(%q, %q) = %q, want %q", tc.xdg, tc.home, got, tc.want)
		}
	}
}

// With no broker configured, run and check say that the built-in default is
// used and how to set another. Both stop at the missing certificates, before
// anything is dialled: the default address must never be contacted here.
func TestDefaultBrokerIsSaidOutLoud(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.yaml")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--config", empty, "--cert-dir", filepath.Join(dir, "no-certs"), "--state-dir", dir}
	want := []string{"broker not configured", "default ssl://192.168.137.150:8883", "broker.urls"}

	_, stderr, err := runCmd(t, append([]string{"run"}, args...)...)
	if err == nil || !strings.Contains(err.Error(), "no-certs") {
		t.Fatalf("run: %v, want it to stop at the missing certificates", err)
	}
	for _, w := range want {
		if !strings.Contains(stderr, w) {
			t.Errorf("run's log lacks %q:\n%s", w, stderr)
		}
	}
	stdout, _, _ := runCmd(t, append([]string{"check"}, args...)...)
	if !strings.Contains(stdout, "FAIL  certificates") {
		t.Fatalf("check did not stop at the certificates:\n%s", stdout)
	}
	for _, w := range want {
		if !strings.Contains(stdout, w) {
			t.Errorf("check's output lacks %q:\n%s", w, stdout)
		}
	}

	named := filepath.Join(dir, "named.yaml")
	if err := os.WriteFile(named, []byte("broker:\n  urls: [ssl://127.0.0.1:1]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, _ = runCmd(t, "run", "--config", named, "--cert-dir", filepath.Join(dir, "no-certs"), "--state-dir", dir)
	if strings.Contains(stderr, "broker not configured") {
		t.Errorf("run says no broker is configured although the config names one:\n%s", stderr)
	}
}

// Against the tutorial's broker everything works, but its CN-only server
// certificate is a warning (run logs one at every connect): exit status 0,
// and 1 with --strict.
func TestCheckStrict(t *testing.T) {
	pki := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
	b := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki})
	args := []string{"check", "--broker", b.URL(), "--cert-dir", pki.DeviceDir(t, "Kai"), "--simulate", "--config", writeConfig(t, "")}
	out, _, err := runCmd(t, args...)
	if err != nil || !strings.Contains(out, "WARN  TLS handshake") || !strings.Contains(out, "PASS  test publish") || !strings.Contains(out, "PASS  sensor environment") {
		t.Errorf("check: %v\n%s", err, out)
	}
	out, _, err = runCmd(t, append(args, "--strict")...)
	if err != exitCode(exitFailure) {
		t.Errorf("check --strict with a WARN: %v\n%s", err, out)
	}
}

// setup writes the two drop-ins and certs.dir, leaving the rest of the
// config as it was; --root keeps it off this machine's /etc.
func TestSetup(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "home/anna/certs")
	if _, _, err := runCmd(t, "certs", "init", dir, "--host", "127.0.0.1", "--client", "Anna"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"server.crt", "server.key"} {
		os.Remove(filepath.Join(dir, f))
	}
	os.MkdirAll(filepath.Join(root, "etc/edgepub"), 0o755)
	cfgFile := filepath.Join(root, "etc/edgepub/config.yaml")
	os.WriteFile(cfgFile, []byte("broker:\n  urls: [ssl://10.0.0.2:8883]  # the broker\ncerts:\n  dir: /home/kai/mqtt-certs\n"), 0o640)
	out, stderr, err := runCmd(t, "setup", "--cert-dir", "/home/anna/certs", "--root", root)
	if err != nil {
		t.Fatalf("setup: %v\n%s%s", err, out, stderr)
	}
	want := map[string]string{
		"etc/systemd/system/edgepub.service.d/setup.conf":    "[Service]\nLoadCredential=\nLoadCredential=certs:/home/anna/certs\n",
		"etc/systemd/system/edgepub-certs.path.d/setup.conf": "[Path]\nPathChanged=\nPathChanged=/home/anna/certs\n",
		"etc/edgepub/config.yaml":                            "broker:\n  urls: [ssl://10.0.0.2:8883]  # the broker\ncerts:\n  dir: /home/anna/certs\n",
	}
	for file, content := range want {
		data, err := os.ReadFile(filepath.Join(root, file))
		if err != nil || !strings.HasSuffix(string(data), content) {
			t.Errorf("%s: %v\n%s\nwant it to end in\n%s", file, err, data, content)
		}
	}
	if st, err := os.Stat(cfgFile); err != nil || st.Mode().Perm() != 0o640 {
		t.Errorf("config mode changed: %v %v", st.Mode(), err)
	}
	// A folder without a usable bundle is refused before anything is written.
	empty := t.TempDir()
	if _, _, err := runCmd(t, "setup", "--cert-dir", "/nothing-here", "--root", empty); err == nil || !strings.Contains(err.Error(), "nothing-here") {
		t.Errorf("setup with a missing folder: %v", err)
	}
	if entries, _ := os.ReadDir(empty); len(entries) != 0 {
		t.Errorf("a refused setup wrote %v", entries)
	}
}

type statusRecorder struct {
	daemon.Notifier
	lines []string
}

func (r *statusRecorder) Status(line string) { r.lines = append(r.lines, line) }

// With the tutorial's default broker and none configured, the status line
// says so while it is unreachable.
func TestDefaultBrokerStatusLine(t *testing.T) {
	rec := &statusRecorder{}
	n := defaultBrokerNotifier{rec}
	n.Status("broker unreachable since 10:04, backlog 12, retry in 30s · cert expires in 812 days")
	n.Status("connected to ssl://192.168.137.150:8883 · backlog 0")
	want := []string{
		"broker not configured (using the tutorial's default ssl://192.168.137.150:8883), unreachable since 10:04, backlog 12, retry in 30s · cert expires in 812 days",
		"connected to ssl://192.168.137.150:8883 · backlog 0",
	}
	if !slices.Equal(rec.lines, want) {
		t.Errorf("got %q\nwant %q", rec.lines, want)
	}
}

// With --log-level debug, run shows each reading when it is queued and when
// the broker acknowledged it, at most 10 of each per second; the first
// record after a full second says how many it left out.
func TestDebugLogShowsReadings(t *testing.T) {
	pki := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
	broker := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki})
	// Two sensors every 20 ms: 100 readings a second, ten times the limit.
	config := writeConfig(t, chaosConfig(broker.URL(), pki.DeviceDir(t, "Kai"), t.TempDir(), "20ms")+"log:\n  level: debug\n")
	d := startDaemonProc(t, "", config)
	line := func(re *regexp.Regexp) string {
		var found string
		testutil.Eventually(t, 20*time.Second, "a log line matching "+re.String(), func() bool {
			found = re.FindString(d.Log())
			return found != ""
		})
		return found
	}
	acked := line(regexp.MustCompile(`.*msg="reading acknowledged" .*sensor=environment .*\n`))
	for _, want := range []string{"seq=", "topic=Kai/sensors/environment", `payload="{\"device\":\"Kai\"`} {
		if !strings.Contains(acked, want) {
			t.Errorf("acknowledged record lacks %s: %s", want, acked)
		}
	}
	queued := line(regexp.MustCompile(`.*msg="reading queued" .*\n`))
	// slog quotes a map with several fields: values="map[a:1 b:2]".
	if !regexp.MustCompile(`values="?map\[`).MatchString(queued) || !strings.Contains(queued, "seq=") {
		t.Errorf("queued record: %s", queued)
	}
	// At 100 readings a second, a record soon says how many it left out.
	line(regexp.MustCompile(`.*msg="reading (queued|acknowledged)".* not_logged=[1-9].*\n`))
	stopWithin(t, d, 5*time.Second)
}
