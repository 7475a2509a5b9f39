package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func runCmd(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	err = run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), err
}

func TestHelpListsEveryCommand(t *testing.T) {
	out, _, err := runCmd(t, "help")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range commands() {
		if !strings.Contains(out, "edgepub "+c.name) {
			t.Errorf("help does not list %s:\n%s", c.name, out)
		}
	}
}

func TestDashHOnEverySubcommand(t *testing.T) {
	for _, c := range commands() {
		if c.run == nil {
			continue
		}
		out, _, err := runCmd(t, c.name, "-h")
		if err != nil || !strings.Contains(out, "Usage: edgepub "+c.name) {
			t.Errorf("%s -h: err %v, output:\n%s", c.name, err, out)
		}
	}
	out, _, err := runCmd(t, "help", "run")
	if err != nil || !strings.Contains(out, "-simulate") || !strings.Contains(out, "-cert-dir") {
		t.Errorf("help run: %v\n%s", err, out)
	}
}

func TestUnknownCommand(t *testing.T) {
	_, stderr, err := runCmd(t, "publish")
	if err == nil || !strings.Contains(stderr, `unknown command "publish"`) {
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
	out, _, err = runCmd(t, "certs", "inspect", dir)
	if err != nil || !strings.Contains(out, "Kai") || !strings.Contains(out, "127.0.0.1") {
		t.Errorf("certs inspect: %v\n%s", err, out)
	}
	out, _, err = runCmd(t, "certs", "inspect", dir, "--json")
	if err != nil || !json.Valid([]byte(out)) {
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
	want := []string{"no broker configured", "built-in default ssl://192.168.137.150:8883", "--broker URL", "broker.urls"}

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
	if strings.Contains(stderr, "no broker configured") {
		t.Errorf("run says no broker is configured although the config names one:\n%s", stderr)
	}
}
