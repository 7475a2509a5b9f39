package publisher

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgepub/edgepub/certs"
	"github.com/edgepub/edgepub/internal/mosquittotest"
	"github.com/edgepub/edgepub/internal/testutil"
	"github.com/edgepub/edgepub/message"
	"github.com/edgepub/edgepub/outbox"
	"github.com/edgepub/edgepub/sensors"
)

// memQueue stands in for the outbox: these tests are about the connection.
type memQueue struct {
	mu     sync.Mutex
	recs   []outbox.Record
	acked  map[uint64]bool
	notify chan struct{}
}

func newMemQueue() *memQueue {
	return &memQueue{acked: map[uint64]bool{}, notify: make(chan struct{}, 1)}
}

func (q *memQueue) add(topic string, payload []byte) {
	q.mu.Lock()
	seq := uint64(len(q.recs) + 1)
	q.recs = append(q.recs, outbox.Record{Seq: seq, Payload: message.Frame(topic, payload, nil)})
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

func (q *memQueue) Pending(after uint64, max int) ([]outbox.Record, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []outbox.Record
	for _, r := range q.recs {
		if r.Seq > after && !q.acked[r.Seq] && len(out) < max {
			out = append(out, r)
		}
	}
	return out, nil
}

func (q *memQueue) Notify() <-chan struct{} { return q.notify }

func (q *memQueue) Ack(seq uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.acked[seq] = true
}

func (q *memQueue) Backlog() outbox.Backlog {
	q.mu.Lock()
	defer q.mu.Unlock()
	b := outbox.Backlog{LastSeq: uint64(len(q.recs))}
	for _, r := range q.recs {
		if !q.acked[r.Seq] {
			b.Readings++
		}
	}
	return b
}

func (q *memQueue) unacked() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.recs) - len(q.acked)
}

func loadSource(t *testing.T, dir string) *certs.Source {
	t.Helper()
	b, err := certs.Load(dir, certs.Names{}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return certs.NewSource(dir, certs.Names{}, b, nil)
}

// testOpts logs to a buffer that a failed test prints.
func testOpts(t *testing.T, url string, src *certs.Source) Opts {
	log := &testutil.Buffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("publisher log:\n%s", log)
		}
	})
	return Opts{
		Logger:    slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		URLs:      []string{url},
		ClientID:  src.Current().Identity,
		TLSConfig: func(host string) *tls.Config { return certs.ClientTLSConfig(src, certs.TLSOpts{Host: host}) },
		KeepAlive: 10 * time.Second, ConnectTimeout: 5 * time.Second,
		BackoffMin: 100 * time.Millisecond, BackoffMax: 500 * time.Millisecond,
		InFlight: 16, StatusTopic: src.Current().Identity + "/status",
	}
}

func start(t *testing.T, p *Publisher) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	return func() {
		cancel()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			t.Error("Run did not return within 2s of cancel")
		}
	}
}

// The seed's certificates (v1, CN-only) against the seed's broker: readings
// arrive in order at a real subscriber, survive a broker restart, and the
// ACL keeps anything outside Kai/ away.
func TestDeliversToSeedBroker(t *testing.T) {
	pki := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
	broker := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki})
	sub := broker.Subscribe(t, "#", mosquittotest.SubOpts{Persistent: true})
	src := loadSource(t, pki.DeviceDir(t, "Kai"))
	q := newMemQueue()
	p := New(q, testOpts(t, broker.URL(), src))
	stop := start(t, p)
	defer stop()

	add := func(from, to int) {
		for seq := from; seq <= to; seq++ {
			r := sensors.Reading{Sensor: "env", Time: time.Now(), Values: sensors.Values{"temperature_c": 20 + float64(seq)/10}}
			payload, err := message.Encode("Kai", uint64(seq), r)
			if err != nil {
				t.Fatal(err)
			}
			q.add(message.Topic("Kai", "env"), payload)
		}
	}
	add(1, 50)
	q.add("Bob/sensors/env", []byte(`{"sneaky":1}`)) // outside the CN's tree
	sub.WaitFor(10*time.Second, "50 readings", func(m []mosquittotest.Message) bool { return count(m, "Kai/sensors/env") >= 50 })

	broker.Restart()
	add(52, 100)
	// Distinct seqs, not messages: a resend after the restart duplicates.
	msgs := sub.WaitFor(20*time.Second, "every seq after the restart", func(m []mosquittotest.Message) bool {
		distinct := map[string]bool{}
		for _, msg := range m {
			if msg.Topic == "Kai/sensors/env" {
				distinct[msg.Payload] = true
			}
		}
		return len(distinct) >= 99
	})
	var seqs []int
	for _, m := range msgs {
		switch m.Topic {
		case "Kai/sensors/env":
			var body struct {
				Device, Sensor string
				Seq            int
				Time           string
				Temp           float64 `json:"temperature_c"`
			}
			if err := json.Unmarshal([]byte(m.Payload), &body); err != nil {
				t.Fatalf("payload %q: %v", m.Payload, err)
			}
			if body.Device != "Kai" || body.Sensor != "env" || body.Temp == 0 {
				t.Errorf("payload fields: %+v", body)
			}
			if _, err := time.Parse(message.TimeLayout, body.Time); err != nil {
				t.Errorf("time %q: %v", body.Time, err)
			}
			seqs = append(seqs, body.Seq)
		case "Kai/status", ProbeTopic("Kai"):
		default:
			t.Errorf("subscriber got %s: a publish outside Kai/ got through", m.Topic)
		}
	}
	seen := map[int]bool{}
	for _, s := range seqs {
		seen[s] = true
	}
	for s := 1; s <= 100; s++ {
		if s != 51 && !seen[s] {
			t.Errorf("seq %d missing", s)
		}
	}
	if st := p.Status(); !st.Connected || st.Reconnects < 1 {
		t.Errorf("status after restart = %+v", st)
	}
	testutil.Eventually(t, 10*time.Second, "queue drained", func() bool { return q.unacked() == 0 })
}

func count(msgs []mosquittotest.Message, topic string) int {
	n := 0
	for _, m := range msgs {
		if m.Topic == topic {
			n++
		}
	}
	return n
}

// A device whose certificate comes from another CA is refused by the broker,
// says so clearly, and keeps its readings.
func TestForeignClientCertIsRefused(t *testing.T) {
	pki := mosquittotest.NewSeedPKI(t, "127.0.0.1")
	broker := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki})
	other := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
	// certs.Load refuses a client cert not signed by ca.crt, the first
	// line of defence; to see what the broker does, the device verifies
	// the broker with the real CA but presents a pair from another CA.
	src := loadSource(t, other.DeviceDir(t, "Kai"))
	brokerCA := loadSource(t, pki.DeviceDir(t, "monitor"))
	q := newMemQueue()
	q.add("Kai/sensors/env", []byte(`{"x":1}`))
	opts := testOpts(t, broker.URL(), src)
	opts.TLSConfig = func(host string) *tls.Config {
		cfg := certs.ClientTLSConfig(brokerCA, certs.TLSOpts{Host: host})
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			pair := src.Current().Client
			return &pair, nil
		}
		return cfg
	}
	p := New(q, opts)
	stop := start(t, p)
	defer stop()
	testutil.Eventually(t, 10*time.Second, "a failed attempt", func() bool { return p.Status().LastError != "" })
	st := p.Status()
	// The refusal arrives as a TLS alert or, with TLS 1.3, often as a
	// reset; both must say what to check.
	if st.Connected || !strings.Contains(st.LastError, "refused this device's certificate") {
		t.Errorf("status = %+v", st)
	}
	if q.unacked() != 1 {
		t.Errorf("reading lost: %d unacked", q.unacked())
	}
}

// A broker whose certificate was issued for another host is refused before
// anything is sent.
func TestWrongBrokerHostIsRefused(t *testing.T) {
	pki := mosquittotest.NewSeedPKI(t, "broker.example", "Kai")
	broker := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki})
	src := loadSource(t, pki.DeviceDir(t, "Kai"))
	q := newMemQueue()
	q.add("Kai/sensors/env", []byte(`{"x":1}`))
	p := New(q, testOpts(t, broker.URL(), src))
	stop := start(t, p)
	defer stop()
	testutil.Eventually(t, 10*time.Second, "a failed attempt", func() bool { return p.Status().LastError != "" })
	if st := p.Status(); st.Connected || !strings.Contains(st.LastError, "broker.example") {
		t.Errorf("status = %+v", st)
	}
}

func TestBackoffBounds(t *testing.T) {
	p := New(newMemQueue(), Opts{BackoffMin: time.Second, BackoffMax: 2 * time.Minute})
	for n := range 40 {
		ceiling := min(time.Second<<min(n+1, 20), 2*time.Minute)
		for range 50 {
			d := p.backoff(n)
			if d < time.Second || d > ceiling {
				t.Fatalf("backoff(%d) = %v, want within [1s, %v]", n, d, ceiling)
			}
		}
	}
}

// The worst case of paho's ping logic, as pingEvery's comment derives it,
// stays within 1.5 × keepalive.
func TestPingEveryBoundsDetection(t *testing.T) {
	for _, k := range []time.Duration{5 * time.Second, 7 * time.Second, 10 * time.Second, 30 * time.Second, time.Minute, 20 * time.Minute} {
		p := pingEvery(k)
		check := p / 4
		if p > 10*time.Second {
			check = 5 * time.Second
		}
		if worst := p + check + k/2 + check; worst > k*3/2 {
			t.Errorf("keepalive %v: paho keepalive %v, worst detection %v > 1.5×", k, p, worst)
		}
	}
}
