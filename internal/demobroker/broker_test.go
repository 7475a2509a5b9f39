package demobroker

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/edgepub/edgepub/internal/testutil"
)

// waitLimit bounds every wait for the network; it guards against hangs and
// is no performance target.
const waitLimit = 10 * time.Second

// observer records what the broker delivers on "#".
type observer struct {
	mu   sync.Mutex
	msgs []Message
	got  chan struct{}
}

func observe(t *testing.T, b *Broker) *observer {
	t.Helper()
	o := &observer{got: make(chan struct{}, 1000)}
	if err := b.Subscribe("#", func(m Message) {
		o.mu.Lock()
		o.msgs = append(o.msgs, m)
		o.mu.Unlock()
		o.got <- struct{}{}
	}); err != nil {
		t.Fatal(err)
	}
	return o
}

// waitTopic waits until a message on topic was delivered and returns it.
func (o *observer) waitTopic(t *testing.T, topic string) Message {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		if m, ok := o.find(topic); ok {
			return m
		}
		select {
		case <-o.got:
		case <-deadline:
			t.Fatalf("no message on %s delivered; got %v", topic, o.topics())
		}
	}
}

func (o *observer) find(topic string) (Message, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, m := range o.msgs {
		if m.Topic == topic {
			return m, true
		}
	}
	return Message{}, false
}

func (o *observer) topics() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var ts []string
	for _, m := range o.msgs {
		ts = append(ts, m.Topic)
	}
	return ts
}

type fixture struct {
	ca     *testCA
	broker *Broker
	logs   *testutil.Buffer
}

func startFixture(t *testing.T) *fixture {
	t.Helper()
	ca := newTestCA(t, "MQTT-CA")
	logs := &testutil.Buffer{}
	b, err := Start(t.Context(), Opts{
		TLS:    ca.serverTLSConfig(t),
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if t.Failed() {
			t.Logf("broker log:\n%s", logs)
		}
	})
	return &fixture{ca: ca, broker: b, logs: logs}
}

// clientOpts are paho options for a device with the given certificate.
func (f *fixture) clientOpts(t *testing.T, id string, certs ...tls.Certificate) *paho.ClientOptions {
	return paho.NewClientOptions().
		AddBroker(f.broker.URL()).
		SetClientID(id).
		SetTLSConfig(&tls.Config{RootCAs: f.ca.pool, Certificates: certs}).
		SetAutoReconnect(false).
		SetConnectTimeout(waitLimit).
		SetWriteTimeout(waitLimit)
}

func connect(t *testing.T, opts *paho.ClientOptions) paho.Client {
	t.Helper()
	c := paho.NewClient(opts)
	if err := waitToken(c.Connect()); err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

func waitToken(tok paho.Token) error {
	if !tok.WaitTimeout(waitLimit) {
		return errors.New("timed out")
	}
	return tok.Error()
}

func publish(t *testing.T, c paho.Client, topic string, qos byte, payload string) {
	t.Helper()
	if err := waitToken(c.Publish(topic, qos, false, payload)); err != nil {
		t.Fatalf("publish on %s: %v", topic, err)
	}
}

func TestDeliversPublishInOwnTree(t *testing.T) {
	f := startFixture(t)
	o := observe(t, f.broker)
	kai := connect(t, f.clientOpts(t, "kai-pi", f.ca.clientCert(t, "Kai")))

	publish(t, kai, "Kai/sensors/x", 1, `{"temperature_c":21.5}`)

	m := o.waitTopic(t, "Kai/sensors/x")
	if string(m.Payload) != `{"temperature_c":21.5}` || m.Username != "Kai" || m.ClientID != "kai-pi" || m.QoS != 1 {
		t.Errorf("delivered %+v, want the payload from client kai-pi, username Kai, QoS 1", m)
	}
}

// A publish outside the client's tree is acknowledged and dropped, as
// Mosquitto does for MQTT 3.1.1: the client stays connected.
func TestDropsPublishOutsideOwnTree(t *testing.T) {
	f := startFixture(t)
	o := observe(t, f.broker)
	kai := connect(t, f.clientOpts(t, "kai-pi", f.ca.clientCert(t, "Kai")))

	for _, topic := range []string{"Bob/x", "Kaiser/x", "kai/x", "x/Kai/y"} {
		publish(t, kai, topic, 1, "denied") // a PUBACK arrives: no error
		publish(t, kai, topic, 0, "denied")
	}
	if !kai.IsConnectionOpen() {
		t.Fatal("client disconnected after a denied publish; Mosquitto keeps it connected")
	}
	// Deliveries from one connection keep their order, so once the marker is
	// delivered any delivery of the denied publishes would have happened.
	publish(t, kai, "Kai/marker", 1, "")
	o.waitTopic(t, "Kai/marker")
	if got := o.topics(); len(got) != 1 {
		t.Errorf("delivered %v, want only Kai/marker", got)
	}
	if !strings.Contains(f.logs.String(), "dropped a publish outside the client's topic tree") {
		t.Errorf("the drop was not logged; log:\n%s", f.logs)
	}
}

func TestCommonNameWinsOverUsername(t *testing.T) {
	f := startFixture(t)
	o := observe(t, f.broker)
	kai := connect(t, f.clientOpts(t, "kai-pi", f.ca.clientCert(t, "Kai")).
		SetUsername("Bob").SetPassword("secret"))

	publish(t, kai, "Bob/x", 1, "as Bob")
	publish(t, kai, "Kai/x", 1, "as Kai")

	if m := o.waitTopic(t, "Kai/x"); m.Username != "Kai" {
		t.Errorf("username %q, want the certificate's CN Kai", m.Username)
	}
	if _, ok := o.find("Bob/x"); ok {
		t.Error("publish on Bob/x delivered for a client that only sent the username Bob")
	}
}

func TestRefusesClientCertificateFromForeignCA(t *testing.T) {
	f := startFixture(t)
	o := observe(t, f.broker)
	foreign := newTestCA(t, "MQTT-CA") // same name, different key

	cert := foreign.clientCert(t, "Kai")
	opts := f.clientOpts(t, "kai-pi")
	// Go's client holds back a certificate the server's CA list does not
	// name; present it anyway, as a misconfigured device would.
	opts.TLSConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		return &cert, nil
	}
	c := paho.NewClient(opts)
	if err := waitToken(c.Connect()); err == nil {
		c.Disconnect(0)
		t.Fatal("client with a certificate from a foreign CA connected")
	}
	if logs := f.logs.String(); !strings.Contains(logs, "refused a TLS connection") ||
		!strings.Contains(logs, "certificate signed by unknown authority") {
		t.Errorf("the refused certificate was not logged; log:\n%s", logs)
	}
	if got := o.topics(); len(got) != 0 {
		t.Errorf("delivered %v", got)
	}
}

func TestRefusesClientWithoutCertificate(t *testing.T) {
	f := startFixture(t)
	c := paho.NewClient(f.clientOpts(t, "anon").SetUsername("Kai"))
	if err := waitToken(c.Connect()); err == nil {
		c.Disconnect(0)
		t.Fatal("client without a certificate connected")
	}
	if !strings.Contains(f.logs.String(), "didn't provide a certificate") {
		t.Errorf("the missing certificate was not logged; log:\n%s", f.logs)
	}
}

func TestRefusesCertificateWithoutCommonName(t *testing.T) {
	f := startFixture(t)
	c := paho.NewClient(f.clientOpts(t, "nameless", f.ca.clientCert(t, "")))
	err := waitToken(c.Connect())
	if err == nil {
		c.Disconnect(0)
		t.Fatal("client whose certificate has no common name connected")
	}
	if !errors.Is(err, packets.ErrorRefusedBadUsernameOrPassword) {
		t.Errorf("connect error %q, want CONNACK bad user name or password, as Mosquitto 2.0 sends", err)
	}
}

func TestSubscriptionsReceiveOwnTreeOnly(t *testing.T) {
	f := startFixture(t)
	bob := connect(t, f.clientOpts(t, "bob-pi", f.ca.clientCert(t, "Bob")))
	if err := waitToken(bob.Publish("Bob/retained", 1, true, "old")); err != nil {
		t.Fatal(err)
	}

	kai := connect(t, f.clientOpts(t, "kai-dashboard", f.ca.clientCert(t, "Kai")))
	got := make(chan string, 10)
	// As Mosquitto 2.0.11 does: wildcard filters are granted, even outside
	// the tree; see the package doc for the wildcard-free difference.
	for filter, want := range map[string]byte{"Kai/#": 1, "#": 1, "+/x": 1, "Bob/#": 1, "Bob/x": 0x80} {
		tok := kai.Subscribe(filter, 1, func(_ paho.Client, m paho.Message) { got <- m.Topic() })
		if err := waitToken(tok); err != nil {
			t.Fatalf("subscribe %s: %v", filter, err)
		}
		if code := tok.(*paho.SubscribeToken).Result()[filter]; code != want {
			t.Errorf("SUBACK for %s = %#x, want %#x", filter, code, want)
		}
	}

	// A second device with the same CN publishes, and so does Bob: Kai's
	// subscriber receives its own tree only, once per matching filter.
	pi := connect(t, f.clientOpts(t, "kai-pi", f.ca.clientCert(t, "Kai")))
	publish(t, bob, "Bob/x", 1, "")
	publish(t, pi, "Kai/x", 1, "")
	for range 3 { // Kai/#, # and +/x
		select {
		case topic := <-got:
			if topic != "Kai/x" {
				t.Errorf("Kai's subscriber received %s, want Kai/x only", topic)
			}
		case <-time.After(waitLimit):
			t.Fatal("Kai's subscriber did not receive Kai/x on all three filters")
		}
	}
	// Bob/x went out before Kai/x; had it been delivered, it would be here.
	select {
	case topic := <-got:
		t.Errorf("Kai's subscriber received %s", topic)
	default:
	}
}

func TestRefusesReservedClientID(t *testing.T) {
	f := startFixture(t)
	c := paho.NewClient(f.clientOpts(t, "inline", f.ca.clientCert(t, "Kai")))
	if err := waitToken(c.Connect()); !errors.Is(err, packets.ErrorRefusedNotAuthorised) {
		c.Disconnect(0)
		t.Fatalf("connect with client id inline: %v, want not authorized", err)
	}
}

// killableClient connects a paho client whose connection the test can cut
// without a DISCONNECT, as a device losing power would.
func killableClient(t *testing.T, opts *paho.ClientOptions) (paho.Client, func()) {
	t.Helper()
	conns := make(chan net.Conn, 1)
	opts.SetCustomOpenConnectionFn(func(uri *url.URL, o paho.ClientOptions) (net.Conn, error) {
		c, err := tls.Dial("tcp", uri.Host, o.TLSConfig)
		if err == nil {
			conns <- c
		}
		return c, err
	})
	c := connect(t, opts)
	conn := <-conns
	return c, func() { conn.Close() }
}

func TestDropsWillOutsideOwnTree(t *testing.T) {
	f := startFixture(t)
	o := observe(t, f.broker)
	_, cutForeign := killableClient(t, f.clientOpts(t, "kai-will-bob", f.ca.clientCert(t, "Kai")).
		SetWill("Bob/status", "offline", 1, false))
	_, cutOwn := killableClient(t, f.clientOpts(t, "kai-will-kai", f.ca.clientCert(t, "Kai")).
		SetWill("Kai/status", "offline", 1, false))

	cutForeign()
	// The broker forgets a clean-session client after sending its will.
	testutil.Eventually(t, waitLimit, "broker noticed the cut connection", func() bool {
		_, ok := f.broker.server.Clients.Get("kai-will-bob")
		return !ok
	})
	cutOwn()
	o.waitTopic(t, "Kai/status") // wills do get delivered
	if _, ok := o.find("Bob/status"); ok {
		t.Error("will on Bob/status delivered for a client with CN Kai")
	}
	if !strings.Contains(f.logs.String(), "will not deliver the client's will") {
		t.Errorf("the dropped will was not logged; log:\n%s", f.logs)
	}
}

func TestStartRefusesAddressesOffLoopback(t *testing.T) {
	ca := newTestCA(t, "MQTT-CA")
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "10.1.2.3:8883", "example.com:8883", "127.0.0.1"} {
		b, err := Start(t.Context(), Opts{Addr: addr, TLS: ca.serverTLSConfig(t)})
		if err == nil {
			b.Close()
			t.Errorf("Start(%q) succeeded, want it refused", addr)
		} else if !strings.Contains(err.Error(), addr) {
			t.Errorf("Start(%q): error %q does not name the address", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "localhost:0", "127.0.0.2:0", "[::1]:0"} {
		b, err := Start(t.Context(), Opts{Addr: addr, TLS: ca.serverTLSConfig(t)})
		if err != nil {
			if addr == "[::1]:0" && strings.Contains(err.Error(), "cannot listen") {
				t.Logf("no IPv6 loopback here: %v", err)
				continue
			}
			t.Errorf("Start(%q): %v", addr, err)
			continue
		}
		host, _, _ := net.SplitHostPort(b.Addr())
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			t.Errorf("Start(%q) listens on %s", addr, b.Addr())
		}
		if !strings.HasPrefix(b.URL(), "ssl://") {
			t.Errorf("URL %q, want ssl://", b.URL())
		}
		b.Close()
	}
}

func TestStartRefusesTLSWithoutClientCertificates(t *testing.T) {
	ca := newTestCA(t, "MQTT-CA")
	tests := map[string]func(*tls.Config) *tls.Config{
		"nil":             func(*tls.Config) *tls.Config { return nil },
		"optional cert":   func(c *tls.Config) *tls.Config { c.ClientAuth = tls.VerifyClientCertIfGiven; return c },
		"unverified cert": func(c *tls.Config) *tls.Config { c.ClientAuth = tls.RequireAnyClientCert; return c },
		"no client CA":    func(c *tls.Config) *tls.Config { c.ClientCAs = nil; return c },
		"no server cert":  func(c *tls.Config) *tls.Config { c.Certificates = nil; return c },
	}
	for name, weaken := range tests {
		t.Run(name, func(t *testing.T) {
			b, err := Start(t.Context(), Opts{TLS: weaken(ca.serverTLSConfig(t))})
			if err == nil {
				b.Close()
				t.Fatal("Start succeeded")
			}
		})
	}
}

// ourGoroutines returns the stacks of goroutines running broker code.
func ourGoroutines() []string {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	var ours []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "github.com/mochi-mqtt/server") || strings.Contains(g, "internal/demobroker.(*") {
			ours = append(ours, g)
		}
	}
	return ours
}

func waitNoGoroutinesOfOurs(t *testing.T) {
	t.Helper()
	var ours []string
	defer func() {
		if t.Failed() {
			t.Logf("%d goroutines of the broker still run after Close:\n%s", len(ours), strings.Join(ours, "\n\n"))
		}
	}()
	testutil.Eventually(t, waitLimit, "no goroutine of the broker left after Close", func() bool {
		ours = ourGoroutines()
		return len(ours) == 0
	})
}

func TestCloseEndsEverything(t *testing.T) {
	ca := newTestCA(t, "MQTT-CA")
	b, err := Start(t.Context(), Opts{TLS: ca.serverTLSConfig(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Subscribe("#", func(Message) {}); err != nil {
		t.Fatal(err)
	}
	c := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL()).SetClientID("kai-pi").
		SetTLSConfig(&tls.Config{RootCAs: ca.pool, Certificates: []tls.Certificate{ca.clientCert(t, "Kai")}}).
		SetAutoReconnect(false))
	if err := waitToken(c.Connect()); err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(0)
	// A peer that connects and never starts TLS must not hold Close up.
	silent, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	// Give the broker time to accept it; Close must cope either way.
	time.Sleep(50 * time.Millisecond)

	closed := make(chan error, 1)
	go func() { closed <- b.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(connectTimeout / 2):
		// Not a speed target: a Close that waits for the silent peer's
		// handshake to time out is the bug this catches.
		t.Fatal("Close waits for a silent peer instead of closing its connection")
	}
	waitNoGoroutinesOfOurs(t)
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if conn, err := net.Dial("tcp", b.Addr()); err == nil {
		conn.Close()
		t.Error("broker still accepts connections after Close")
	}
}

func TestCancelledContextStopsBroker(t *testing.T) {
	ca := newTestCA(t, "MQTT-CA")
	ctx, cancel := context.WithCancel(t.Context())
	b, err := Start(ctx, Opts{TLS: ca.serverTLSConfig(t)})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	waitNoGoroutinesOfOurs(t)
	if conn, err := net.Dial("tcp", b.Addr()); err == nil {
		conn.Close()
		t.Error("broker still accepts connections after its context ended")
	}
	if err := b.Close(); err != nil {
		t.Errorf("Close after cancel: %v", err)
	}
}
