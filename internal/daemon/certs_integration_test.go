package daemon

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgepub/edgepub/certs"
	"github.com/edgepub/edgepub/certs/pki"
	"github.com/edgepub/edgepub/internal/logging"
	"github.com/edgepub/edgepub/internal/mosquittotest"
	"github.com/edgepub/edgepub/internal/testutil"
	"github.com/edgepub/edgepub/internal/tutorialpki"
)

// These tests cover certificates end to end (issue 4): the daemon runs in
// this process against a real Mosquitto configured as the seed says, with
// certificates made by openssl as a user makes them.

// An expired client certificate keeps the daemon up and its readings in the
// outbox; a renewed pair dropped into the cert dir is picked up without a
// restart, by the file watch or by SIGHUP, and every queued reading arrives.
//
// It fails if the daemon exits on the expired certificate, if anything is
// published with it, if the renewed pair is not picked up by the path under
// test, or if a queued reading is missing at the subscriber.
func TestExpiredClientCertIsQueuedUntilRenewed(t *testing.T) {
	for _, via := range []string{"watch", "sighup"} {
		t.Run(via, func(t *testing.T) { testExpiredThenRenewed(t, via == "sighup") })
	}
}

func testExpiredThenRenewed(t *testing.T, sighup bool) {
	pki := mosquittotest.NewSeedPKI(t, "127.0.0.1")
	now := time.Now()
	pki.AddClientValidity(t, "Kai", "Kai", now.AddDate(0, 0, -400), now.AddDate(0, 0, -30))
	pki.AddClientValidity(t, "Kai-renewed", "Kai", now.Add(-time.Hour), now.AddDate(0, 0, 825))
	broker := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki})
	sub := broker.Subscribe(t, "#", mosquittotest.SubOpts{Persistent: true})
	certDir := pki.DeviceDir(t, "Kai")

	logger, logs := capturingLogger(t)
	o := Opts{Config: testConfig(t, broker, certDir, t.TempDir()), Logger: logger}
	reload := make(chan struct{})
	notifier := &reloadNotifier{reloaded: make(chan struct{}, 1)}
	if sighup {
		o.Reload, o.Notifier = reload, notifier
	}
	r := startDaemon(t, o)

	testutil.Eventually(t, 15*time.Second, "30 readings queued", func() bool { return r.d.Health().Backlog >= 30 })
	// Mosquitto refuses the handshake itself ("certificate verify failed")
	// and tells the client why with a TLS alert.
	testutil.Eventually(t, 10*time.Second, "the broker refusing the expired certificate", func() bool {
		return strings.Contains(broker.Log(), "certificate verify failed") && strings.Contains(logs.String(), "tls: expired certificate")
	})
	h := r.d.Health()
	if h.Connected || h.Delivered != 0 || h.Reconnects != 0 {
		t.Fatalf("connected with an expired certificate: %+v", h)
	}
	if h.CertDaysLeft == nil || *h.CertDaysLeft >= 0 {
		t.Errorf("health cert_days_left = %v, want negative", h.CertDaysLeft)
	}
	if line := r.d.StatusLine(); !strings.Contains(line, "certificate EXPIRED") {
		t.Errorf("status line %q does not say the certificate expired", line)
	}
	if n := len(readings(t, sub.Messages(), "Kai")); n != 0 {
		t.Fatalf("%d readings were published with an expired certificate", n)
	}
	if !strings.Contains(logs.String(), "client certificate cannot be used now") {
		t.Error("the expired certificate was not logged at start")
	}
	t.Logf("publisher's last error while expired: %s", r.d.publisher.Status().LastError)
	r.requireRunning(t)

	renewed := certSerial(t, pki.File("Kai-renewed.crt"))
	if sighup {
		// Keep the directory busy so the file watch, which waits for it to
		// be quiet, cannot reload: only the SIGHUP path can pick the pair up.
		stopNoise := keepTouching(t, filepath.Join(certDir, ".noise"), 200*time.Millisecond)
		installPair(t, certDir, "Kai", pki.File("Kai-renewed.crt"), pki.File("Kai-renewed.key"), 0)
		time.Sleep(2 * certs.DefaultWatchDebounce)
		if r.clientSerial() == renewed {
			t.Fatal("the file watch reloaded although the directory never went quiet: this test cannot isolate SIGHUP")
		}
		select {
		case reload <- struct{}{}:
		case <-time.After(5 * time.Second):
			t.Fatal("the daemon did not take the reload request within 5s")
		}
		select {
		case <-notifier.reloaded:
		case <-time.After(5 * time.Second):
			t.Fatal("reload did not finish within 5s")
		}
		if got := r.clientSerial(); got != renewed {
			t.Fatalf("after SIGHUP the daemon uses certificate serial %s, want the renewed %s", got, renewed)
		}
		stopNoise()
	} else {
		installPair(t, certDir, "Kai", pki.File("Kai-renewed.crt"), pki.File("Kai-renewed.key"), 0)
	}

	testutil.Eventually(t, 15*time.Second, "a connection with the renewed certificate", func() bool { return r.d.publisher.Status().Connected })
	if got := r.clientSerial(); got != renewed {
		t.Errorf("connected with certificate serial %s, want the renewed %s", got, renewed)
	}
	testutil.Eventually(t, 5*time.Second, "the rotation message (MsgCertRotated) logged", func() bool {
		return strings.Contains(logs.String(), logging.MsgCertRotated)
	})
	deliveredThrough(t, sub, "Kai", r.d.outbox.Stats().LastSeq, time.Minute)
	h = r.d.Health()
	if h.CertDaysLeft == nil || *h.CertDaysLeft < 800 {
		t.Errorf("health cert_days_left = %v after renewal, want the renewed certificate's 824", h.CertDaysLeft)
	}
	if h.Dropped != 0 {
		t.Errorf("%d readings dropped", h.Dropped)
	}
}

// A client pair from a new CA replaces the old one while connected, the
// certificate first and the key 200 ms later. The broker is then restarted
// trusting only the new CA for clients, so the reconnection proves the new
// pair is what the daemon presents. Nothing is lost on the way.
//
// It fails if the watch reads the certificate without its key, if the
// rotation drops the live connection, if the daemon still presents the old
// pair after the restart (the broker refuses it: no reconnection), or if a
// reading is missing.
func TestRotationToANewCAWhileConnected(t *testing.T) {
	pki := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
	newCA := tutorialpki.NewCA(t, "MQTT-CA-2")
	newCA.AddClient(t, "Kai")
	newCA.AddClient(t, "monitor")
	// The harness's subscriber must outlive the old CA.
	for _, f := range []string{"monitor.crt", "monitor.key"} {
		copyFile(t, newCA.File(f), pki.File(f))
	}
	clientCAs := filepath.Join(t.TempDir(), "client-cas.crt")
	tutorialpki.Concat(t, clientCAs, pki.File("ca.crt"), newCA.File("ca.crt"))
	broker := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki, ClientCAFile: clientCAs})
	sub := broker.Subscribe(t, "#", mosquittotest.SubOpts{Persistent: true})

	// The device got both CAs ahead of the change, as a fleet is prepared
	// for one: the old verifies the broker, the new the next client pair.
	certDir := pki.DeviceDir(t, "Kai")
	tutorialpki.Concat(t, filepath.Join(certDir, "ca.crt"), pki.File("ca.crt"), newCA.File("ca.crt"))
	logger, logs := capturingLogger(t)
	r := startDaemon(t, Opts{Config: testConfig(t, broker, certDir, t.TempDir()), Logger: logger})
	sub.WaitFor(10*time.Second, "readings with the old pair", func(m []mosquittotest.Message) bool {
		return len(readings(t, m, "Kai")) >= 10
	})

	newSerial := certSerial(t, newCA.File("Kai.crt"))
	installPair(t, certDir, "Kai", newCA.File("Kai.crt"), newCA.File("Kai.key"), 200*time.Millisecond)
	// The switch is logged just after it is made: wait for both.
	testutil.Eventually(t, 10*time.Second, "the new pair in use and logged", func() bool {
		return r.clientSerial() == newSerial && strings.Contains(logs.String(), logging.MsgCertRotated)
	})
	if l := logs.String(); strings.Contains(l, "certificate reload failed") {
		t.Errorf("the certificate written 200 ms before its key was not read as one pair (a failed reload logged, or no rotation message)")
	}
	if st := r.d.publisher.Status(); !st.Connected || st.Reconnects != 0 {
		t.Errorf("rotation disturbed the live connection: %+v", st)
	}
	before := r.d.outbox.Stats().LastSeq
	deliveredThrough(t, sub, "Kai", before, 10*time.Second)

	tutorialpki.Concat(t, clientCAs, newCA.File("ca.crt"))
	broker.Restart()
	if out, err := broker.Publish(t, "Kai", "Kai/logs", "old CA"); err == nil {
		t.Fatalf("the restarted broker still accepts the old CA's Kai certificate, so a reconnection proves nothing: %s", out)
	}
	testutil.Eventually(t, 15*time.Second, "a reconnection with the new pair", func() bool {
		st := r.d.publisher.Status()
		return st.Connected && st.Reconnects >= 1
	})
	deliveredThrough(t, sub, "Kai", r.d.outbox.Stats().LastSeq, time.Minute)
	if d := r.d.outbox.Stats().Dropped; d != 0 {
		t.Errorf("%d readings dropped", d)
	}
}

// A replacement whose key does not belong to its certificate is refused by
// the file watch and by SIGHUP alike; the old pair stays in use and still
// connects after a broker restart.
//
// It fails if either path swaps in the broken pair (the broker then refuses
// the handshake and no reconnection happens), if the refusal is not logged,
// or if a reading is lost.
func TestBrokenReplacementKeepsTheOldPair(t *testing.T) {
	pki := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
	pki.AddClientValidity(t, "Kai-next", "Kai", time.Now().Add(-time.Hour), time.Now().AddDate(0, 0, 825))
	broker := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki})
	sub := broker.Subscribe(t, "#", mosquittotest.SubOpts{Persistent: true})
	certDir := pki.DeviceDir(t, "Kai")
	logger, logs := capturingLogger(t)
	reload := make(chan struct{})
	notifier := &reloadNotifier{reloaded: make(chan struct{}, 1)}
	r := startDaemon(t, Opts{Config: testConfig(t, broker, certDir, t.TempDir()), Logger: logger, Reload: reload, Notifier: notifier})
	sub.WaitFor(10*time.Second, "readings", func(m []mosquittotest.Message) bool { return len(readings(t, m, "Kai")) >= 10 })
	oldSerial := r.clientSerial()

	// The new certificate arrives, its key never does.
	replaceFile(t, filepath.Join(certDir, "Kai.crt"), readFile(t, pki.File("Kai-next.crt")))
	testutil.Eventually(t, 10*time.Second, "the watch refusing the mismatched pair", func() bool {
		l := logs.String()
		return strings.Contains(l, "certificate reload failed") && strings.Contains(l, "does not match")
	})
	reload <- struct{}{}
	select {
	case <-notifier.reloaded:
	case <-time.After(5 * time.Second):
		t.Fatal("reload did not finish within 5s")
	}
	if !strings.Contains(logs.String(), "reload: the new certificate files are not usable") {
		t.Error("SIGHUP did not report the mismatched pair")
	}
	if got := r.clientSerial(); got != oldSerial {
		t.Fatalf("the daemon took the broken pair (serial %s, old %s)", got, oldSerial)
	}
	if strings.Contains(logs.String(), logging.MsgCertRotated) {
		t.Error("a rotation was logged for a refused pair")
	}

	broker.Restart()
	testutil.Eventually(t, 15*time.Second, "a reconnection with the old pair", func() bool {
		st := r.d.publisher.Status()
		return st.Connected && st.Reconnects >= 1
	})
	deliveredThrough(t, sub, "Kai", r.d.outbox.Stats().LastSeq, time.Minute)
}

// A client certificate signed by an intermediate CA, made with openssl as a
// user would, connects whether the intermediate travels in the device's
// certificate file or sits in the CA bundles of both sides.
//
// It fails if certs.Load refuses the chain or finds another path than
// expected, or if the daemon does not send what the broker needs to verify
// it (no readings arrive).
func TestIntermediateCAChain(t *testing.T) {
	for _, tc := range []struct {
		name string
		// inCertFile appends the intermediate to Kai.crt; otherwise it goes
		// into the device's ca.crt, and into the broker's cafile unless
		// brokerRootOnly.
		inCertFile, brokerRootOnly bool
		chain                      []string
	}{
		{"intermediate appended to the client certificate", true, false, []string{"Kai", "MQTT-Intermediate", "MQTT-CA"}},
		{"intermediate in both CA bundles", false, false, []string{"Kai", "MQTT-Intermediate"}},
		{"intermediate in the device's CA bundle only", false, true, []string{"Kai", "MQTT-Intermediate"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := mosquittotest.NewSeedPKI(t, "127.0.0.1")
			inter := root.NewIntermediate(t, "MQTT-Intermediate")
			inter.AddClient(t, "Kai")
			certDir := t.TempDir()
			bundle := filepath.Join(t.TempDir(), "ca-bundle.crt")
			tutorialpki.Concat(t, bundle, root.File("ca.crt"), inter.File("ca.crt"))
			opts := mosquittotest.Opts{PKI: root}
			if tc.inCertFile {
				copyFile(t, root.File("ca.crt"), filepath.Join(certDir, "ca.crt"))
				tutorialpki.Concat(t, filepath.Join(certDir, "Kai.crt"), inter.File("Kai.crt"), inter.File("ca.crt"))
			} else {
				copyFile(t, bundle, filepath.Join(certDir, "ca.crt"))
				copyFile(t, inter.File("Kai.crt"), filepath.Join(certDir, "Kai.crt"))
				if !tc.brokerRootOnly {
					opts.ClientCAFile = bundle
				}
			}
			copyFile(t, inter.File("Kai.key"), filepath.Join(certDir, "Kai.key"))
			broker := mosquittotest.Start(t, opts)
			sub := broker.Subscribe(t, "#", mosquittotest.SubOpts{})

			// The reference client accepts the same files: the set-up is sound.
			if out, err := seedPublish(broker, certDir, "Kai", "Kai/logs", "chain"); err != nil {
				t.Fatalf("mosquitto_pub with the device's files: %v\n%s\n%s", err, out, broker.Log())
			}
			r := startDaemon(t, Opts{Config: testConfig(t, broker, certDir, t.TempDir())})
			if got := chainNames(r.d.certs.Current().Chain); strings.Join(got, " → ") != strings.Join(tc.chain, " → ") {
				t.Errorf("chain found: %s, want %s", strings.Join(got, " → "), strings.Join(tc.chain, " → "))
			}
			sub.WaitFor(15*time.Second, "readings from the chained certificate", func(m []mosquittotest.Message) bool {
				return len(readings(t, m, "Kai")) >= 10
			})
		})
	}
}

// EC client keys in the three forms openssl writes them connect end to end:
// `ecparam -genkey` (curve parameters, then SEC1), with -noout (SEC1 only)
// and `genpkey` (PKCS#8). The seed's CA is RSA; mixed key types are normal.
//
// It fails if a form is not parsed, or the broker refuses the handshake
// signed with the EC key (no readings from that device).
func TestECClientKeys(t *testing.T) {
	pki := mosquittotest.NewSeedPKI(t, "127.0.0.1")
	forms := map[string]struct {
		form    tutorialpki.ECKeyForm
		headers []string
	}{
		"ec-params": {tutorialpki.ECParamsAndSEC1, []string{"EC PARAMETERS", "EC PRIVATE KEY"}},
		"ec-sec1":   {tutorialpki.ECSEC1, []string{"EC PRIVATE KEY"}},
		"ec-pkcs8":  {tutorialpki.ECPKCS8, []string{"PRIVATE KEY"}},
	}
	for name, f := range forms {
		pki.AddECClient(t, name, f.form)
		if got := pemTypes(t, pki.File(name+".key")); strings.Join(got, ",") != strings.Join(f.headers, ",") {
			t.Fatalf("%s.key holds %v, want %v: the helper does not make the form under test", name, got, f.headers)
		}
	}
	broker := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki})
	sub := broker.Subscribe(t, "#", mosquittotest.SubOpts{})
	for name := range forms {
		r := startDaemon(t, Opts{Config: testConfig(t, broker, pki.DeviceDir(t, name), t.TempDir())})
		if alg := r.d.certs.Current().Leaf().PublicKeyAlgorithm; alg != x509.ECDSA {
			t.Errorf("%s: certificate key is %v, want ECDSA", name, alg)
		}
	}
	sub.WaitFor(15*time.Second, "readings from every EC device", func(m []mosquittotest.Message) bool {
		for name := range forms {
			if len(readings(t, m, name)) < 10 {
				return false
			}
		}
		return true
	})
}

// What `edgepub certs init` writes works with the seed's mosquitto.conf
// block unchanged (cafile, certfile, keyfile into the init folder,
// require_certificate, use_identity_as_username), with the seed's own
// mosquitto_pub test command, and for the daemon, whose broker check then
// needs no legacy common-name fallback.
//
// It fails if Mosquitto cannot load the files, if the seed's command or the
// daemon is refused, or if the server certificate lacks the SAN for
// 127.0.0.1.
func TestInitPKIWithTheSeedsBrokerConfig(t *testing.T) {
	initDir := filepath.Join(t.TempDir(), "certs")
	res, err := pki.InitPKI(pki.InitOpts{Dir: initDir, Host: "127.0.0.1", Clients: []string{"Kai", "monitor"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(initDir, "ca.key")); err == nil {
		t.Errorf("ca.key was written into the certificate folder (%s)", res.CAKeyFile)
	}
	broker := mosquittotest.Start(t, mosquittotest.Opts{PKI: &tutorialpki.PKI{Dir: initDir}})
	sub := broker.Subscribe(t, "#", mosquittotest.SubOpts{})

	if out, err := seedPublish(broker, initDir, "Kai", "Kai/logs", "TLS & Authentifiziert"); err != nil {
		t.Fatalf("the seed's mosquitto_pub command: %v\n%s\n%s", err, out, broker.Log())
	}
	sub.WaitFor(10*time.Second, "the seed command's message", func(m []mosquittotest.Message) bool {
		return hasMessage(m, "Kai/logs", "TLS & Authentifiziert")
	})

	// The device gets ca.crt, Kai.crt and Kai.key, as the reminder says.
	certDir := t.TempDir()
	for _, f := range []string{"ca.crt", "Kai.crt", "Kai.key"} {
		copyFile(t, filepath.Join(initDir, f), filepath.Join(certDir, f))
	}
	logger, logs := capturingLogger(t)
	startDaemon(t, Opts{Config: testConfig(t, broker, certDir, t.TempDir()), Logger: logger})
	sub.WaitFor(10*time.Second, "the daemon's readings", func(m []mosquittotest.Message) bool {
		return len(readings(t, m, "Kai")) >= 10
	})
	if strings.Contains(logs.String(), logging.MsgLegacyServerCert) {
		t.Error("the init'd broker certificate was accepted only by its CN: it lacks a subjectAltName for 127.0.0.1")
	}
}

// seedPublish runs the seed's test command against the broker with the
// files of dir: mosquitto_pub --cafile ca.crt --cert <id>.crt --key <id>.key.
func seedPublish(b *mosquittotest.Broker, dir, identity, topic, msg string) (string, error) {
	out, err := exec.Command("mosquitto_pub", "-h", "127.0.0.1", "-p", strconv.Itoa(b.Port()),
		"--cafile", filepath.Join(dir, "ca.crt"),
		"--cert", filepath.Join(dir, identity+".crt"),
		"--key", filepath.Join(dir, identity+".key"),
		"-t", topic, "-m", msg).CombinedOutput()
	return string(out), err
}

// capturingLogger logs to the test output and into the returned buffer.
func capturingLogger(t *testing.T) (*slog.Logger, *testutil.Buffer) {
	buf := &testutil.Buffer{}
	h := slog.NewTextHandler(io.MultiWriter(testWriter{t}, buf), &slog.HandlerOptions{Level: slog.LevelDebug})
	return slog.New(h), buf
}

// reloadNotifier signals each finished reload: the daemon reports Ready
// again after Reloading.
type reloadNotifier struct {
	reloading atomic.Bool
	reloaded  chan struct{}
}

func (n *reloadNotifier) Ready() {
	if n.reloading.Swap(false) {
		n.reloaded <- struct{}{}
	}
}
func (n *reloadNotifier) Enabled() bool                            { return false }
func (n *reloadNotifier) Reloading()                               { n.reloading.Store(true) }
func (n *reloadNotifier) Status(string)                            {}
func (n *reloadNotifier) Stopping()                                {}
func (n *reloadNotifier) RunWatchdog(context.Context, func() bool) {}

// requireRunning fails if Run has returned.
func (r *running) requireRunning(t *testing.T) {
	t.Helper()
	select {
	case err := <-r.done:
		r.cancel = nil
		t.Fatalf("the daemon stopped: %v", err)
	default:
	}
}

// clientSerial is the serial of the client certificate the daemon presents
// at the next handshake.
func (r *running) clientSerial() string {
	return r.d.certs.Current().Leaf().SerialNumber.Text(16)
}

func certSerial(t *testing.T, path string) string {
	t.Helper()
	block, _ := pem.Decode(readFile(t, path))
	if block == nil {
		t.Fatalf("%s holds no PEM", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c.SerialNumber.Text(16)
}

func pemTypes(t *testing.T, path string) []string {
	t.Helper()
	var types []string
	rest := readFile(t, path)
	for {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			return types
		}
		types = append(types, block.Type)
	}
}

func chainNames(chain []*x509.Certificate) []string {
	var names []string
	for _, c := range chain {
		names = append(names, c.Subject.CommonName)
	}
	return names
}

// installPair replaces <name>.crt and then <name>.key in dir, each in one
// rename as a careful deployment does, gap apart.
func installPair(t *testing.T, dir, name, certFile, keyFile string, gap time.Duration) {
	t.Helper()
	replaceFile(t, filepath.Join(dir, name+".crt"), readFile(t, certFile))
	time.Sleep(gap)
	replaceFile(t, filepath.Join(dir, name+".key"), readFile(t, keyFile))
}

func replaceFile(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".new")
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.WriteFile(dst, readFile(t, src), 0o600); err != nil {
		t.Fatal(err)
	}
}

// keepTouching rewrites path every interval until the returned stop is
// called.
func keepTouching(t *testing.T, path string, interval time.Duration) (stop func()) {
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for n := 0; ; n++ {
			os.WriteFile(path, []byte(strconv.Itoa(n)), 0o600)
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { close(done); <-finished }) }
	t.Cleanup(stop)
	return stop
}

// deliveredThrough waits until the subscriber has every reading of device
// with seq 1 to last, and fails naming the missing ones.
func deliveredThrough(t *testing.T, sub *mosquittotest.Subscriber, device string, last uint64, timeout time.Duration) {
	t.Helper()
	if last == 0 {
		t.Fatal("no readings were taken")
	}
	deadline := time.Now().Add(timeout)
	for {
		seen := seqSet(readings(t, sub.Messages(), device))
		var missing []string
		for s := uint64(1); s <= last; s++ {
			if seen[s] == 0 {
				missing = append(missing, fmt.Sprint(s))
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			if len(missing) > 20 {
				missing = append(missing[:20], "…")
			}
			t.Fatalf("%d of seq 1..%d never arrived within %v: %s\n%s", len(missing), last, timeout, strings.Join(missing, ", "), sub.Diagnosis())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// With Opts.CertPoll the daemon finds a replaced pair by polling and opens
// no inotify instance (the fleet benchmark runs thousands of daemons in one
// process). It fails if the daemon still watches with inotify or does not
// pick the renewed pair up.
func TestCertPollInsteadOfTheWatch(t *testing.T) {
	pki := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
	now := time.Now()
	pki.AddClientValidity(t, "Kai-renewed", "Kai", now.Add(-time.Hour), now.AddDate(0, 0, 825))
	broker := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki})
	certDir := pki.DeviceDir(t, "Kai")
	before := testutil.InotifyInstances(t)
	r := startDaemon(t, Opts{Config: testConfig(t, broker, certDir, t.TempDir()), CertPoll: 100 * time.Millisecond})
	testutil.Eventually(t, 15*time.Second, "connected", func() bool { return r.d.publisher.Status().Connected })
	if n := testutil.InotifyInstances(t); n != before {
		t.Errorf("%d inotify instances with CertPoll set, %d before the daemon: want none of its own", n, before)
	}
	renewed := certSerial(t, pki.File("Kai-renewed.crt"))
	installPair(t, certDir, "Kai", pki.File("Kai-renewed.crt"), pki.File("Kai-renewed.key"), 0)
	testutil.Eventually(t, 15*time.Second, "the renewed pair picked up by the poll", func() bool { return r.clientSerial() == renewed })
}
