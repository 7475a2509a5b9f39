package renew_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgepub/edgepub/certs"
	"github.com/edgepub/edgepub/certs/pki"
	"github.com/edgepub/edgepub/certs/renew"
	"github.com/edgepub/edgepub/certs/signer"
	"github.com/edgepub/edgepub/config"
	"github.com/edgepub/edgepub/internal/daemon"
	"github.com/edgepub/edgepub/internal/logging"
	"github.com/edgepub/edgepub/internal/mosquittotest"
	"github.com/edgepub/edgepub/internal/testutil"
	"github.com/edgepub/edgepub/internal/tutorialpki"
	"github.com/edgepub/edgepub/sensors"
	"github.com/edgepub/edgepub/sensors/sim"
)

// These tests run the daemon with certs.renew: auto and the signer against
// a real Mosquitto with the tutorial's settings, the README's signer ACL
// and a crlfile.

type world struct {
	pki     *tutorialpki.PKI
	ca      *pki.Authority
	broker  *mosquittotest.Broker
	sub     *mosquittotest.Subscriber
	signLog *testutil.Buffer
	stopSig context.CancelFunc
	sigDone chan error
}

// newWorld makes the tutorial's PKI, Kai's first certificate by hand
// (openssl, X.509 v1) valid for lifetime, and the broker with a
// persistent subscriber.
func newWorld(t *testing.T, lifetime time.Duration) *world {
	t.Helper()
	p := mosquittotest.NewSeedPKI(t, "127.0.0.1", "signer")
	now := time.Now()
	p.AddClientValidity(t, "Kai", "Kai", now.Add(-10*time.Second), now.Add(lifetime))
	if err := os.Chmod(p.File("ca.key"), 0o600); err != nil {
		t.Fatal(err)
	}
	ca, err := pki.OpenAuthority(p.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.WriteCRL(now, time.Hour); err != nil {
		t.Fatal(err)
	}
	w := &world{pki: p, ca: ca, signLog: &testutil.Buffer{}}
	w.broker = mosquittotest.Start(t, mosquittotest.Opts{PKI: p, ACL: mosquittotest.SignerACL, Extra: []string{"crlfile " + ca.CRLFile}})
	w.sub = w.broker.Subscribe(t, "#", mosquittotest.SubOpts{Persistent: true})
	return w
}

func (w *world) startSigner(t *testing.T, validity time.Duration) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w.stopSig, w.sigDone = cancel, make(chan error, 1)
	o := signer.Opts{
		Authority: w.ca, BrokerURL: w.broker.URL(), TLS: tlsConfig(t, w.pki.DeviceDir(t, "signer")),
		Validity: validity, RateBurst: 10, RateEvery: time.Minute, ReloadCommand: w.broker.ReloadCommand(),
		Logger: slog.New(slog.NewJSONHandler(w.signLog, nil)),
	}
	go func() { w.sigDone <- signer.Run(ctx, o) }()
	t.Cleanup(w.stopSigner)
	testutil.Eventually(t, 20*time.Second, "the signer ready", func() bool { return strings.Contains(w.signLog.String(), logging.MsgSignerReady) })
}

func (w *world) stopSigner() {
	if w.stopSig != nil {
		w.stopSig()
		<-w.sigDone
		w.stopSig = nil
	}
}

type device struct {
	d          *daemon.Daemon
	renewedDir string
	log        *testutil.Buffer
	cancel     context.CancelFunc
	done       chan error
}

// startDevice runs Kai's daemon with certs.renew: auto at 20 readings/s.
func (w *world) startDevice(t *testing.T, tune func(*config.Config), o daemon.Opts) *device {
	t.Helper()
	cfg := config.Default()
	cfg.Broker.URLs = []string{w.broker.URL()}
	cfg.Broker.StartJitter = 0
	cfg.Broker.BackoffMin = config.Duration(100 * time.Millisecond)
	cfg.Broker.BackoffMax = config.Duration(time.Second)
	cfg.Certs.Dir = w.pki.DeviceDir(t, "Kai")
	cfg.Certs.Renew = "auto"
	cfg.StateDir = t.TempDir()
	cfg.Sensors = config.SimulatedSensors(100 * time.Millisecond) // two sensors: 20 readings/s
	cfg.Presence.HealthInterval = config.Duration(time.Second)
	if tune != nil {
		tune(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	dev := &device{log: &testutil.Buffer{}, done: make(chan error, 1), renewedDir: renew.Dir(cfg.StateDir)}
	o.Config = cfg
	o.Logger = slog.New(slog.NewJSONHandler(dev.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	o.OpenSensor = func(_ context.Context, spec config.Sensor) (sensors.Sensor, error) {
		if spec.Type == "sim-soc" {
			return sim.NewSoC(&sim.Opts{Seed: 2}), nil
		}
		return sim.NewBME280(&sim.Opts{Seed: 1}), nil
	}
	ready := make(chan *daemon.Daemon, 1)
	o.Ready = func(d *daemon.Daemon) { ready <- d }
	ctx, cancel := context.WithCancel(context.Background())
	dev.cancel = cancel
	go func() { dev.done <- daemon.Run(ctx, o) }()
	select {
	case dev.d = <-ready:
	case err := <-dev.done:
		t.Fatalf("daemon did not start: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("daemon not ready within 10s")
	}
	t.Cleanup(func() {
		cancel()
		<-dev.done
	})
	return dev
}

// A device whose certificate lives 3 minutes renews it several times in a
// row over 10 minutes while publishing 20 readings/s, without a restart,
// and a persistent subscriber gets every reading. Twice the broker restarts
// after a renewal, so the daemon's own connection must come back with a
// renewed pair: the first one has expired by then.
//
// It fails if fewer than three renewals happen, if the daemon ever stops,
// if it cannot reconnect after a restart (it would still be using an
// expired pair), or if any reading is missing or duplicated at the
// subscriber.
func TestContinuousRenewal(t *testing.T) {
	const lifetime, run = 3 * time.Minute, 10 * time.Minute
	w := newWorld(t, lifetime)
	w.startSigner(t, lifetime)
	start := time.Now()
	dev := w.startDevice(t, nil, daemon.Opts{})
	first := clientCert(dev.d.Health())

	restarts := 0
	lastRenewals := 0
	for time.Since(start) < run {
		select {
		case err := <-dev.done:
			t.Fatalf("the daemon stopped: %v", err)
		case <-time.After(time.Second):
		}
		st := dev.d.Health().CertRenewal
		if st == nil {
			t.Fatal("health has no cert_renewal")
		}
		if st.Renewals != lastRenewals {
			lastRenewals = st.Renewals
			t.Logf("%s: renewal %d, serial %s", time.Since(start).Round(time.Second), st.Renewals, st.Serial)
			if st.Renewals == 2 || st.Renewals == 4 {
				w.broker.Restart()
				restarts++
				testutil.Eventually(t, 60*time.Second, "the daemon back after a broker restart", func() bool {
					h := dev.d.Health()
					return h.Connected && h.Reconnects >= uint64(restarts)
				})
			}
		}
	}
	h := dev.d.Health()
	if h.CertRenewal.Renewals < 3 {
		t.Fatalf("%d renewals in %s with a %s certificate, want at least 3:\n%s", h.CertRenewal.Renewals, run, lifetime, dev.log)
	}
	if restarts == 0 {
		t.Fatal("the broker was never restarted: the renewed pair was not proven in the daemon's connection")
	}
	if strings.Count(dev.log.String(), logging.MsgCertRenewed) != h.CertRenewal.Renewals {
		t.Errorf("renewals logged %d times, health says %d", strings.Count(dev.log.String(), logging.MsgCertRenewed), h.CertRenewal.Renewals)
	}
	if clientCert(h) == first {
		t.Error("health still shows the first certificate")
	}

	testutil.Eventually(t, 60*time.Second, "the backlog delivered", func() bool { return dev.d.Health().Backlog == 0 })
	assertNoneLost(t, w.sub, "Kai")
	if h := dev.d.Health(); h.Dropped != 0 {
		t.Errorf("%d readings dropped", h.Dropped)
	}
	key := filepath.Join(dev.renewedDir, "Kai.key")
	if st, err := os.Stat(key); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("renewed key %s: %v %v, want mode 0600", key, st.Mode(), err)
	}
}

// With the signer down the device keeps its pair and its connection,
// retries with a growing delay and warns with a MESSAGE_ID; once the
// signer is back it renews.
func TestSignerDown(t *testing.T) {
	w := newWorld(t, time.Hour)
	dev := w.startDevice(t, func(c *config.Config) { c.Certs.RenewBefore = config.Duration(2 * time.Hour) }, daemon.Opts{
		TuneRenewal: func(o *renew.Opts) { o.RetryMin, o.AnswerTimeout = time.Second, 2*time.Second },
	})
	before := clientCert(dev.d.Health())

	testutil.Eventually(t, 60*time.Second, "three failed attempts", func() bool {
		st := dev.d.Health().CertRenewal
		return st != nil && st.Failures >= 3
	})
	delays := retryDelays(t, dev.log.String())
	if len(delays) < 3 || delays[2] <= delays[0] {
		t.Errorf("retry delays %v do not grow:\n%s", delays, dev.log)
	}
	testutil.Eventually(t, 10*time.Second, "the status line saying renewal fails", func() bool { return strings.Contains(dev.d.StatusLine(), "renewal failing") })
	h := dev.d.Health()
	if clientCert(h) != before || !h.Connected {
		t.Errorf("the device lost its pair or its connection while the signer was down: %+v", h)
	}

	w.startSigner(t, 3*time.Hour)
	testutil.Eventually(t, 60*time.Second, "a renewal once the signer is back", func() bool { return dev.d.Health().CertRenewal.Renewals == 1 })
}

// If the broker refuses the new pair, the device keeps the old one: here
// the signer signs with a second CA that the device's ca.crt also holds but
// the broker's cafile does not (a broker and signer set up with different
// CA folders).
//
// It fails if the refused pair is stored or used, if the device loses its
// connection, or if the refusal is not logged with its MESSAGE_ID and
// reason.
func TestBrokerRefusesTheNewPair(t *testing.T) {
	w := newWorld(t, time.Hour)
	other := tutorialpki.NewCA(t, "Other-CA")
	if err := os.Chmod(other.File("ca.key"), 0o600); err != nil {
		t.Fatal(err)
	}
	var err error
	if w.ca, err = pki.OpenAuthority(other.Dir); err != nil {
		t.Fatal(err)
	}
	w.startSigner(t, 3*time.Hour)
	devDir := t.TempDir()
	tutorialpki.Concat(t, filepath.Join(devDir, "ca.crt"), w.pki.File("ca.crt"), other.File("ca.crt"))
	tutorialpki.CopyFile(t, w.pki.File("Kai.crt"), filepath.Join(devDir, "Kai.crt"), 0o644)
	tutorialpki.CopyFile(t, w.pki.File("Kai.key"), filepath.Join(devDir, "Kai.key"), 0o600)
	dev := w.startDevice(t, func(c *config.Config) {
		c.Certs.Dir = devDir
		c.Certs.RenewBefore = config.Duration(2 * time.Hour)
	}, daemon.Opts{TuneRenewal: func(o *renew.Opts) { o.RetryMin = time.Second }})
	before := clientCert(dev.d.Health())

	t.Cleanup(func() {
		if t.Failed() {
			t.Log(dev.log.String())
		}
	})
	testutil.Eventually(t, 60*time.Second, "the broker's refusal of the new pair", func() bool {
		return strings.Contains(dev.log.String(), logging.MsgCertRenewalRefused) && strings.Contains(dev.log.String(), `"reason":"broker_refused"`)
	})
	h := dev.d.Health()
	if clientCert(h) != before || h.CertRenewal.Renewals != 0 || h.CertRenewal.State != "refused" {
		t.Errorf("after the refusal: client %s (was %s), renewal %+v", clientCert(h), before, h.CertRenewal)
	}
	if _, err := os.Lstat(dev.renewedDir); err == nil {
		t.Errorf("the refused pair was stored in %s", dev.renewedDir)
	}
	testutil.Eventually(t, 30*time.Second, "the daemon connected with its old pair", func() bool { return dev.d.Health().Connected })
}

// retryDelays returns the retry_in of each renewal-failed warning.
func retryDelays(t *testing.T, log string) []time.Duration {
	var out []time.Duration
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, logging.MsgCertRenewalFailed) {
			continue
		}
		var rec struct {
			RetryIn time.Duration `json:"retry_in"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		out = append(out, rec.RetryIn)
	}
	return out
}

// assertNoneLost checks that seq 1..max arrived exactly once.
func assertNoneLost(t *testing.T, sub *mosquittotest.Subscriber, device string) {
	t.Helper()
	seen := map[uint64]int{}
	var last uint64
	for _, m := range sub.Messages() {
		if !strings.HasPrefix(m.Topic, device+"/sensors/") {
			continue
		}
		var r struct{ Seq uint64 }
		if err := json.Unmarshal([]byte(m.Payload), &r); err != nil {
			t.Fatalf("%s: %q: %v", m.Topic, m.Payload, err)
		}
		seen[r.Seq]++
		last = max(last, r.Seq)
	}
	var missing, twice int
	for s := uint64(1); s <= last; s++ {
		switch seen[s] {
		case 0:
			missing++
		case 1:
		default:
			twice++
		}
	}
	t.Logf("%d readings delivered", last)
	if missing > 0 || last == 0 {
		t.Errorf("%d of %d readings lost", missing, last)
	}
	if twice > 0 {
		t.Logf("%d readings delivered twice (QoS 1 after a broker restart)", twice)
	}
}

func tlsConfig(t *testing.T, dir string) *tls.Config {
	t.Helper()
	b, err := certs.Load(dir, certs.Names{}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return certs.ClientTLSConfig(certs.NewSource(dir, certs.Names{}, b, nil), certs.TLSOpts{Host: "127.0.0.1"})
}

// clientCert names the client certificate in use, from health.
func clientCert(h daemon.Health) string {
	for _, c := range h.Certs {
		if c.Which == "client" {
			return c.File + " " + c.NotAfter.String()
		}
	}
	return ""
}
