package doctor

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgepub/edgepub/config"
	"github.com/edgepub/edgepub/internal/mosquittotest"
	"github.com/edgepub/edgepub/sensors"
)

func configFor(t *testing.T, brokerURL, certDir string) config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.Broker.URLs = []string{brokerURL}
	cfg.Certs.Dir = certDir
	cfg.StateDir = t.TempDir()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// last returns the final step and fails unless the run stopped at want.
func last(t *testing.T, steps []Step, want string, ok bool) Step {
	t.Helper()
	s := steps[len(steps)-1]
	if s.Name != want || s.OK != ok {
		for _, st := range steps {
			t.Logf("%+v", st)
		}
		t.Fatalf("last step %q ok=%v, want %q ok=%v", s.Name, s.OK, want, ok)
	}
	return s
}

func TestCheckPassesAgainstTheSeedBroker(t *testing.T) {
	pki := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
	b := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki})
	steps := Check(context.Background(), configFor(t, b.URL(), pki.DeviceDir(t, "Kai")), Opts{Timeout: 5 * time.Second})
	last(t, steps, "test publish", true)
	if Failed(steps) {
		t.Error("Failed() on a passing run")
	}
	// run warns about the tutorial's CN-only server certificate at every
	// connect: check does as well.
	for _, s := range steps {
		if s.Name == "TLS handshake" && (s.Status != Warn || !strings.Contains(s.Fix, "subjectAltName")) {
			t.Errorf("the tutorial's CN-only server certificate is not a warning: %+v", s)
		}
	}
}

func TestCheckNamesEachMisconfiguration(t *testing.T) {
	pki := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
	good := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki})
	ctx := context.Background()
	opts := Opts{Timeout: 3 * time.Second}

	t.Run("wrong CA", func(t *testing.T) {
		dir := pki.DeviceDir(t, "Kai")
		other := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
		// The device holds a bundle from another CA; it is self-consistent,
		// so only the broker's certificate gives it away.
		for _, f := range []string{"ca.crt", "Kai.crt", "Kai.key"} {
			data, _ := os.ReadFile(other.File(f))
			os.WriteFile(dir+"/"+f, data, 0o600)
		}
		s := last(t, Check(ctx, configFor(t, good.URL(), dir), opts), "TLS handshake", false)
		if !strings.Contains(s.Fix, "ca.crt") {
			t.Errorf("fix = %q", s.Fix)
		}
	})
	t.Run("wrong host", func(t *testing.T) {
		other := mosquittotest.NewSeedPKI(t, "broker.example", "Kai")
		b := mosquittotest.Start(t, mosquittotest.Opts{PKI: other})
		s := last(t, Check(ctx, configFor(t, b.URL(), other.DeviceDir(t, "Kai")), opts), "TLS handshake", false)
		if !strings.Contains(s.Detail+s.Fix, "broker.example") {
			t.Errorf("step = %+v", s)
		}
	})
	t.Run("broker refuses the identity", func(t *testing.T) {
		// The broker trusts another CA for its clients (cafile) while its
		// own certificate still comes from the device's CA.
		other := mosquittotest.NewSeedPKI(t, "127.0.0.1")
		b := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki, ClientCAFile: other.File("ca.crt")})
		s := last(t, Check(ctx, configFor(t, b.URL(), pki.DeviceDir(t, "Kai")), opts), "TLS handshake", false)
		if !strings.Contains(s.Fix, "refused this device's certificate") {
			t.Errorf("step = %+v", s)
		}
	})
	t.Run("ACL without the seed rule", func(t *testing.T) {
		b := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki, ACL: "user monitor\ntopic read #\n"})
		s := last(t, Check(ctx, configFor(t, b.URL(), pki.DeviceDir(t, "Kai")), opts), "test publish", false)
		if !strings.Contains(s.Fix, "pattern readwrite %u/#") || !strings.Contains(s.Fix, "verify_delivery: warn") {
			t.Errorf("fix = %q", s.Fix)
		}
	})
	t.Run("nothing listening", func(t *testing.T) {
		url := "ssl://127.0.0.1:" + strconv.Itoa(mosquittotest.FreePort(t))
		s := last(t, Check(ctx, configFor(t, url, pki.DeviceDir(t, "Kai")), opts), "TCP connect", false)
		if !strings.Contains(s.Fix, "listener") {
			t.Errorf("fix = %q", s.Fix)
		}
	})
	t.Run("missing discovery ACL", func(t *testing.T) {
		cfg := configFor(t, good.URL(), pki.DeviceDir(t, "Kai"))
		cfg.Presence.HomeAssistant = true
		// run warns and goes on: a WARN, not a FAIL.
		s := last(t, Check(ctx, cfg, opts), "discovery ACL", true)
		if s.Status != Warn || !strings.Contains(s.Fix, "pattern readwrite homeassistant/sensor/%u/#") {
			t.Errorf("step = %+v", s)
		}
		b := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki, ACL: mosquittotest.SeedACL + "\npattern readwrite homeassistant/sensor/%u/#\n"})
		cfg.Broker.URLs = []string{b.URL()}
		if s := last(t, Check(ctx, cfg, opts), "discovery ACL", true); s.Status != Pass {
			t.Errorf("step = %+v", s)
		}
	})
}

// check tells ahead of run that the state dir cannot be used, with the fix.
// The broker is never dialled: the step before name resolution fails.
func TestCheckStateDir(t *testing.T) {
	pki := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
	cfg := configFor(t, "ssl://127.0.0.1:1", pki.DeviceDir(t, "Kai"))
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.StateDir = filepath.Join(file, "state")
	s := last(t, Check(context.Background(), cfg, Opts{Timeout: time.Second}), "state dir", false)
	if !strings.Contains(s.Detail, file+" is not a directory") || !strings.Contains(s.Fix, "--state-dir DIR") || !strings.Contains(s.Fix, "systemctl start edgepub") {
		t.Errorf("step = %+v", s)
	}

	cfg.StateDir = filepath.Join(t.TempDir(), "new", "state")
	steps := Check(context.Background(), cfg, Opts{Timeout: time.Second})
	if len(steps) < 2 || steps[1].Name != "state dir" || !steps[1].OK || !strings.Contains(steps[1].Detail, "does not exist yet") {
		t.Errorf("steps = %+v", steps)
	}
}

// check names a port without TLS as such (a plain MQTT listener, a silent
// one) and never blames the certificate.
func TestCheckNamesPortWithoutTLS(t *testing.T) {
	pki := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
	port := strconv.Itoa(mosquittotest.FreePort(t))
	mosquittotest.Start(t, mosquittotest.Opts{PKI: pki, Extra: []string{"", "listener " + port + " 127.0.0.1"}})
	plain := net.JoinHostPort("127.0.0.1", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", plain, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the plain listener did not open: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	for _, tc := range []struct{ addr, want string }{
		{plain, "port " + port + " of 127.0.0.1 is plain MQTT"},
		{ln.Addr().String(), "accepts TCP connections but answers neither"},
	} {
		cfg := configFor(t, "ssl://"+tc.addr, pki.DeviceDir(t, "Kai"))
		s := last(t, Check(context.Background(), cfg, Opts{Timeout: 2 * time.Second}), "TLS handshake", false)
		if !strings.Contains(s.Detail, tc.want) || !strings.Contains(s.Detail+s.Fix, "8883") || strings.Contains(s.Detail+s.Fix, "certificate") {
			t.Errorf("%s: step = %+v", tc.addr, s)
		}
	}
}

// The test message is JSON on <device>/check: a consumer of the device's
// readings (<device>/sensors/#) never sees it.
func TestCheckTestMessageStaysOutOfReadings(t *testing.T) {
	pki := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
	b := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki})
	readings := b.Subscribe(t, "Kai/sensors/#", mosquittotest.SubOpts{ClientID: "readings"})
	checks := b.Subscribe(t, TestTopic("Kai"), mosquittotest.SubOpts{ClientID: "checks"})
	last(t, Check(context.Background(), configFor(t, b.URL(), pki.DeviceDir(t, "Kai")), Opts{Timeout: 5 * time.Second}), "test publish", true)
	msgs := checks.WaitFor(10*time.Second, "the test message", func(m []mosquittotest.Message) bool { return len(m) > 0 })
	var payload struct{ Device, Check string }
	if err := json.Unmarshal([]byte(msgs[0].Payload), &payload); err != nil || payload.Device != "Kai" || payload.Check == "" {
		t.Errorf("test message %q: %v", msgs[0].Payload, err)
	}
	// Mosquitto handles publishes in order: once a later marker reached the
	// readings subscriber, the test message would have reached it too.
	if out, err := b.Publish(t, "Kai", "Kai/sensors/marker", "{}"); err != nil {
		t.Fatalf("publish marker: %v %s", err, out)
	}
	got := readings.WaitFor(10*time.Second, "the marker", func(m []mosquittotest.Message) bool { return len(m) > 0 })
	if len(got) != 1 || got[0].Topic != "Kai/sensors/marker" {
		t.Errorf("the readings subscriber saw %+v", got)
	}
}

// A finding run logs as an error is a FAIL here too, and one it logs as a
// warning is a WARN; neither stops the later steps, since the device works.
func TestCheckGradesAsRunLogs(t *testing.T) {
	pki := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
	b := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki})
	dir := pki.DeviceDir(t, "Kai")
	leaf := loadLeaf(t, filepath.Join(dir, "Kai.crt"))
	status := func(steps []Step, name string) Status {
		for _, s := range steps {
			if s.Name == name {
				return s.Status
			}
		}
		return ""
	}
	cfg := configFor(t, b.URL(), dir)
	// Days before expiry as the tutorial's 825-day certificates age.
	for _, tc := range []struct {
		daysLeft int
		want     Status
	}{{400, Pass}, {20, Warn}, {3, Fail}} {
		now := func() time.Time { return leaf.NotAfter.Add(-time.Duration(tc.daysLeft) * 24 * time.Hour) }
		steps := Check(context.Background(), cfg, Opts{Timeout: 5 * time.Second, Now: now})
		last(t, steps, "test publish", true)
		if got := status(steps, "certificates"); got != tc.want {
			t.Errorf("%d days left: certificates %s, want %s", tc.daysLeft, got, tc.want)
		}
	}
	// The CA's key on the device: run logs an error at every start.
	data, _ := os.ReadFile(pki.File("ca.key"))
	os.WriteFile(filepath.Join(dir, "ca.key"), data, 0o600)
	steps := Check(context.Background(), cfg, Opts{Timeout: 5 * time.Second})
	last(t, steps, "test publish", true)
	if status(steps, "CA key") != Fail || !Failed(steps) {
		t.Errorf("ca.key on the device is not a FAIL: %+v", steps)
	}
}

func loadLeaf(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type fakeSensor struct {
	values sensors.Values
	err    error
}

func (f fakeSensor) Sense(context.Context) (sensors.Values, error) { return f.values, f.err }

// A sensor that does not work is a WARN (run retries it), unless it is
// required (run stops): then a FAIL. Neither stops the check.
func TestCheckSensors(t *testing.T) {
	cfg := configFor(t, "ssl://127.0.0.1:"+strconv.Itoa(mosquittotest.FreePort(t)), t.TempDir())
	cfg.Sensors = []config.Sensor{
		{Name: "room", Type: "bme280", Timeout: config.Duration(time.Second)},
		{Name: "attic", Type: "bme280", Timeout: config.Duration(time.Second)},
		{Name: "tank", Type: "ds18b20", Timeout: config.Duration(time.Second), Required: true},
	}
	open := func(_ context.Context, s config.Sensor) (sensors.Sensor, error) {
		switch s.Name {
		case "room":
			return fakeSensor{values: sensors.Values{"temperature_c": 21.5, "humidity_pct": 40}}, nil
		case "attic":
			return fakeSensor{err: errors.New("i2c: NACK at 0x76")}, nil
		}
		return nil, errors.New(`sensor "tank": no such probe`)
	}
	steps := Check(context.Background(), cfg, Opts{Timeout: time.Second, OpenSensor: open})
	want := []struct {
		name   string
		status Status
		detail string
	}{
		{"sensor room", Pass, "humidity_pct 40, temperature_c 21.5"},
		{"sensor attic", Warn, "NACK at 0x76"},
		{"sensor tank", Fail, "no such probe"},
		{"certificates", Fail, ""},
	}
	if len(steps) != len(want) {
		t.Fatalf("steps %+v", steps)
	}
	for i, w := range want {
		if s := steps[i]; s.Name != w.name || s.Status != w.status || !strings.Contains(s.Detail, w.detail) {
			t.Errorf("step %d = %+v, want %s %s %q", i, s, w.name, w.status, w.detail)
		}
	}
}

// Ctrl-C: the step it cut short is not reported, and nothing after it runs.
func TestCheckStopsWhenCancelled(t *testing.T) {
	pki := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var seen []string
	cfg := configFor(t, "ssl://127.0.0.1:"+strconv.Itoa(mosquittotest.FreePort(t)), pki.DeviceDir(t, "Kai"))
	steps := Check(ctx, cfg, Opts{Timeout: time.Second, OnStep: func(s Step) {
		seen = append(seen, s.Name)
		if s.Name == "certificates" {
			cancel()
		}
	}})
	if len(steps) != 1 || len(seen) != 1 || Failed(steps) {
		t.Errorf("steps after cancel: %+v (reported %v)", steps, seen)
	}
}
