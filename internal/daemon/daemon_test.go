package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"testing"
	"time"

	"github.com/edgepub/edgepub/config"
	"github.com/edgepub/edgepub/internal/mosquittotest"
	"github.com/edgepub/edgepub/sensors"
	"github.com/edgepub/edgepub/sensors/sim"
)

// reading is the part of a payload the tests look at.
type reading struct {
	Device string  `json:"device"`
	Sensor string  `json:"sensor"`
	Seq    uint64  `json:"seq"`
	Time   string  `json:"time"`
	Temp   float64 `json:"temperature_c"`
}

func testConfig(t *testing.T, broker *mosquittotest.Broker, certDir, stateDir string) config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.Broker.URLs = []string{broker.URL()}
	cfg.Broker.StartJitter = 0
	cfg.Broker.BackoffMin = config.Duration(100 * time.Millisecond)
	cfg.Broker.BackoffMax = config.Duration(time.Second)
	cfg.Certs.Dir = certDir
	cfg.StateDir = stateDir
	cfg.Sensors = config.SimulatedSensors(50 * time.Millisecond)
	cfg.Presence.HealthInterval = config.Duration(time.Second)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// simOpener opens the simulated sensors; a real catalog is not needed to
// test the wiring.
func simOpener(ctx context.Context, spec config.Sensor) (sensors.Sensor, error) {
	switch spec.Type {
	case "sim-bme280":
		return sim.NewBME280(&sim.Opts{Seed: 1}), nil
	case "sim-soc":
		return sim.NewSoC(&sim.Opts{Seed: 2}), nil
	}
	return nil, errors.New("unknown type " + spec.Type)
}

type running struct {
	d      *Daemon
	cancel context.CancelFunc
	done   chan error
}

func startDaemon(t *testing.T, o Opts) *running {
	t.Helper()
	if o.OpenSensor == nil {
		o.OpenSensor = simOpener
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ready := make(chan *Daemon, 1)
	o.Ready = func(d *Daemon) { ready <- d }
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- Run(ctx, o) }()
	select {
	case r.d = <-ready:
	case err := <-r.done:
		t.Fatalf("daemon did not start: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("daemon not ready within 10s")
	}
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop shuts the daemon down and fails if that takes 2 s or more.
func (r *running) stop(t *testing.T) {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Error("daemon did not stop within 2s")
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func readings(t *testing.T, msgs []mosquittotest.Message, device string) []reading {
	t.Helper()
	var out []reading
	for _, m := range msgs {
		if !strings.HasPrefix(m.Topic, device+"/sensors/") {
			continue
		}
		var r reading
		if err := json.Unmarshal([]byte(m.Payload), &r); err != nil {
			t.Fatalf("%s: payload %q is not JSON: %v", m.Topic, m.Payload, err)
		}
		if m.Topic != device+"/sensors/"+r.Sensor || r.Device != device {
			t.Errorf("topic %s carries device %q sensor %q", m.Topic, r.Device, r.Sensor)
		}
		out = append(out, r)
	}
	return out
}

func seqSet(rs []reading) map[uint64]int {
	m := map[uint64]int{}
	for _, r := range rs {
		m[r.Seq]++
	}
	return m
}

// End to end against the seed's broker with the seed's certificates: the
// device is found from the cert dir alone, its readings reach a real
// subscriber with consecutive seqs, its presence is retained, and seq goes
// on after a restart.
func TestEndToEndWithSeedBroker(t *testing.T) {
	pki := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
	broker := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki})
	sub := broker.Subscribe(t, "#", mosquittotest.SubOpts{Persistent: true})
	certDir, stateDir := pki.DeviceDir(t, "Kai"), t.TempDir()

	first := startDaemon(t, Opts{Config: testConfig(t, broker, certDir, stateDir)})
	sub.WaitFor(10*time.Second, "20 readings", func(m []mosquittotest.Message) bool { return len(readings(t, m, "Kai")) >= 20 })
	sub.WaitFor(10*time.Second, "retained online status", func(m []mosquittotest.Message) bool {
		return hasMessage(m, "Kai/status", "online")
	})
	sub.WaitFor(10*time.Second, "health", func(m []mosquittotest.Message) bool { return hasTopic(m, "Kai/health") })
	first.stop(t)
	sub.WaitFor(5*time.Second, "offline status after a clean stop", func(m []mosquittotest.Message) bool {
		return hasMessage(m, "Kai/status", "offline")
	})
	firstRun := readings(t, sub.Messages(), "Kai")
	last := uint64(0)
	for _, r := range firstRun {
		last = max(last, r.Seq)
	}

	startDaemon(t, Opts{Config: testConfig(t, broker, certDir, stateDir)})
	msgs := sub.WaitFor(10*time.Second, "readings of the second run", func(m []mosquittotest.Message) bool {
		return len(readings(t, m, "Kai")) >= len(firstRun)+10
	})
	all := readings(t, msgs, "Kai")
	seen := seqSet(all)
	maxSeq := uint64(0)
	for _, r := range all {
		maxSeq = max(maxSeq, r.Seq)
		if r.Sensor == "environment" && (r.Temp < -20 || r.Temp > 50) {
			t.Errorf("implausible simulated temperature %v", r.Temp)
		}
		if _, err := time.Parse(time.RFC3339, r.Time); err != nil || !strings.HasSuffix(r.Time, "Z") || len(r.Time) != len("2026-11-26T11:00:00.123Z") {
			t.Errorf("time %q is not RFC 3339 UTC with milliseconds", r.Time)
		}
	}
	if seen[1] == 0 {
		t.Error("seq does not start at 1")
	}
	for s := uint64(1); s <= maxSeq; s++ {
		if seen[s] == 0 {
			t.Errorf("seq %d missing (first run ended at %d)", s, last)
		}
	}
	if seen[last+1] == 0 {
		t.Errorf("second run did not continue at seq %d", last+1)
	}
}

func hasTopic(msgs []mosquittotest.Message, topic string) bool {
	for _, m := range msgs {
		if m.Topic == topic {
			return true
		}
	}
	return false
}

func hasMessage(msgs []mosquittotest.Message, topic, payload string) bool {
	for _, m := range msgs {
		if m.Topic == topic && m.Payload == payload {
			return true
		}
	}
	return false
}

// failingSensor stands for a replayed sensor whose bus NACKs every read.
type failingSensor struct{}

func (failingSensor) Sense(context.Context) (sensors.Values, error) {
	return nil, errors.New("i2c tx at 0x76 on /dev/i2c-1: NACK")
}

// One failing sensor never stops the others, and the health message names it.
func TestFailingSensorIsReportedAndOthersGoOn(t *testing.T) {
	pki := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
	broker := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki})
	sub := broker.Subscribe(t, "#", mosquittotest.SubOpts{})
	cfg := testConfig(t, broker, pki.DeviceDir(t, "Kai"), t.TempDir())
	cfg.Sensors = append(cfg.Sensors, config.Sensor{Name: "attic", Type: "bme280", Bus: "/dev/i2c-1", Address: 0x76,
		Interval: config.Duration(50 * time.Millisecond), Timeout: config.Duration(20 * time.Millisecond), Samples: 1})
	startDaemon(t, Opts{Config: cfg, OpenSensor: func(ctx context.Context, spec config.Sensor) (sensors.Sensor, error) {
		if spec.Name == "attic" {
			return failingSensor{}, nil
		}
		return simOpener(ctx, spec)
	}})
	msgs := sub.WaitFor(10*time.Second, "health naming the failing sensor, and readings", func(m []mosquittotest.Message) bool {
		if len(readings(t, m, "Kai")) < 5 {
			return false
		}
		for _, msg := range m {
			if msg.Topic == "Kai/health" && strings.Contains(msg.Payload, `"name":"attic"`) && strings.Contains(msg.Payload, "NACK") {
				return true
			}
		}
		return false
	})
	if n := len(readings(t, msgs, "Kai")); n < 5 {
		t.Errorf("only %d readings from the healthy sensors", n)
	}
	for _, r := range readings(t, msgs, "Kai") {
		if r.Sensor == "attic" {
			t.Error("the failing sensor published a reading")
		}
	}
	var h Health
	for _, m := range msgs {
		if m.Topic == "Kai/health" {
			if err := json.Unmarshal([]byte(m.Payload), &h); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, s := range h.Sensors {
		if s.Name == "attic" && (!s.Failing || s.Errors == 0) {
			t.Errorf("attic status %+v", s)
		}
		if s.Name == "environment" && (s.Failing || s.LastSuccess.IsZero()) {
			t.Errorf("environment status %+v", s)
		}
	}
	if h.Device != "Kai" || h.CertDaysLeft == nil || *h.CertDaysLeft < 800 || h.Broker != broker.URL() || !h.Connected {
		t.Errorf("health = %+v", h)
	}
}

// A required sensor that cannot be opened stops the start with a clear
// error; an optional one does not.
func TestRequiredSensorMustOpen(t *testing.T) {
	pki := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
	broker := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki})
	cfg := testConfig(t, broker, pki.DeviceDir(t, "Kai"), t.TempDir())
	cfg.Sensors[0].Required = true
	noDevice := func(ctx context.Context, spec config.Sensor) (sensors.Sensor, error) {
		return nil, errors.New("no device at 0x76 on /dev/i2c-1")
	}
	err := Run(context.Background(), Opts{Config: cfg, OpenSensor: noDevice})
	if err == nil || !strings.Contains(err.Error(), "environment") || !strings.Contains(err.Error(), "required") {
		t.Errorf("err = %v", err)
	}
}

// Certificates that cannot be loaded stop the start with the certs
// package's one-line error naming the file.
func TestMissingCertDirIsAClearError(t *testing.T) {
	pki := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
	broker := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki})
	dir := pki.DeviceDir(t, "Kai")
	os.Remove(dir + "/ca.crt")
	err := Run(context.Background(), Opts{Config: testConfig(t, broker, dir, t.TempDir()), OpenSensor: simOpener})
	if err == nil || !strings.Contains(err.Error(), "ca.crt") {
		t.Errorf("err = %v", err)
	}
}

// The retained health goes out at every connect, not only every
// health_interval: with an interval of an hour, the health is published at
// the first connect and again, with reconnects 1, after a broker restart.
// The presence loop waits on a timer and is woken by the publisher's
// OnConnect; the daemon stops with it.
func TestHealthRefreshedOnEveryConnect(t *testing.T) {
	pki := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
	broker := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki})
	sub := broker.Subscribe(t, "Kai/health", mosquittotest.SubOpts{Persistent: true})
	cfg := testConfig(t, broker, pki.DeviceDir(t, "Kai"), t.TempDir())
	cfg.Presence.HealthInterval = config.Duration(time.Hour)
	r := startDaemon(t, Opts{Config: cfg})
	withReconnects := func(n int) func([]mosquittotest.Message) bool {
		return func(msgs []mosquittotest.Message) bool {
			for _, m := range msgs {
				if m.Topic == "Kai/health" && strings.Contains(m.Payload, `"connected":true,"reconnects":`+strconv.Itoa(n)+`,`) {
					return true
				}
			}
			return false
		}
	}
	sub.WaitFor(10*time.Second, "health at the first connect", withReconnects(0))
	broker.Restart()
	sub.WaitFor(20*time.Second, "health at the reconnect", withReconnects(1))
	r.stop(t)
}
