package drain

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgepub/edgepub/certs"
	"github.com/edgepub/edgepub/internal/edgepubproc"
	"github.com/edgepub/edgepub/internal/mosquittotest"
	"github.com/edgepub/edgepub/message"
	"github.com/edgepub/edgepub/outbox"
	"github.com/edgepub/edgepub/sensors"
)

const (
	// backlog is how many readings wait in the outbox for the broker.
	backlog = 100_000
	// hold is how long edgepub holds the backlog, broker away, while its
	// RSS is sampled once a second.
	hold = 15 * time.Second
	// backoffMax bounds edgepub's reconnect delay in this run, so the time
	// from the broker's return to the first connect stays under a second
	// (the default, 2 min, is for fleets, not for timing a drain).
	backoffMax = time.Second
	device     = "Kai"
	topic      = device + "/sensors/backlog"
)

// BenchmarkDrain fills the state dir's outbox with 100,000 readings (with
// outbox directly, as edgepub would have during an outage),
// starts `edgepub run` with one slow simulated sensor and no broker,
// samples its RSS while it holds the backlog, then starts Mosquitto (the
// seed's mTLS listener) and times until a subscriber has every reading.
// The subscriber holds a persistent QoS 1 session from before the outage,
// so nothing sent before it reconnects is lost.
//
//	go test -run '^$' -bench BenchmarkDrain -benchtime 1x ./bench/drain
func BenchmarkDrain(b *testing.B) {
	for range b.N {
		pki := mosquittotest.NewSeedPKI(b, "127.0.0.1", device)
		broker := mosquittotest.Start(b, mosquittotest.Opts{PKI: pki})
		sub := newSubscriber(b, broker.URL(), pki.DeviceDir(b, "monitor"))
		sub.connect(b) // creates the persistent session and its subscription
		sub.disconnect()
		broker.Stop()

		stateDir := edgepubproc.StateDir(b)
		prefill(b, filepath.Join(stateDir, "outbox"))
		config := edgepubproc.Config{
			Broker: broker.URL(), CertDir: pki.DeviceDir(b, device), StateDir: stateDir,
			Sensors: 1, Interval: 10 * time.Second, BackoffMax: backoffMax,
		}.Write(b)
		p := edgepubproc.Start(b, edgepubproc.Build(b), edgepubproc.Opts{Config: config})
		p.WaitLog("edgepub started", 30*time.Second)

		var rss []float64
		for t := time.NewTicker(time.Second); len(rss) < int(hold/time.Second); <-t.C {
			rss = append(rss, float64(edgepubproc.Read(b, p.PID()).RSSKiB)/1024)
		}
		held := edgepubproc.Read(b, p.PID())

		broker.Start()
		back := time.Now()
		sub.connect(b)
		last := sub.waitAll(b, 2*time.Minute)
		drained := edgepubproc.Read(b, p.PID())
		p.WaitLog("backlog delivered", 10*time.Second)
		took := tookRE.FindStringSubmatch(p.Log())
		p.Stop()

		b.ReportMetric(last.Sub(back).Seconds(), "drain-s")
		b.ReportMetric(backlog/last.Sub(back).Seconds(), "drain-msg/s")
		b.ReportMetric(slices.Max(rss), "held-rss-peak-MiB")
		b.ReportMetric(float64(drained.HWMKiB)/1024, "vmhwm-MiB")
		b.Logf("holding %d readings: RSS %.1f–%.1f MiB (anon %.1f MiB); VmHWM %.1f MiB before the drain, %.1f MiB after",
			backlog, slices.Min(rss), slices.Max(rss), float64(held.RssAnonKiB)/1024, float64(held.HWMKiB)/1024, float64(drained.HWMKiB)/1024)
		b.Logf("broker back → subscriber has all %d: %.2f s (%.0f msg/s); edgepub's own log: %s; duplicates at the subscriber: %d",
			backlog, last.Sub(back).Seconds(), backlog/last.Sub(back).Seconds(), firstOr(took), sub.duplicates())
		b.Logf("edgepub CPU during the drain: %.2f s", (drained.CPU - held.CPU).Seconds())
	}
}

var tookRE = regexp.MustCompile(`msg="backlog delivered".*`)

func firstOr(m []string) string {
	if len(m) == 0 {
		return "(no backlog delivered line)"
	}
	return m[0]
}

// prefill appends the backlog to the outbox in dir as the daemon would:
// message.Encode for the payload, message.Frame with the topic.
func prefill(b *testing.B, dir string) {
	ob, err := outbox.Open(dir, nil)
	if err != nil {
		b.Fatal(err)
	}
	at := time.Now().Add(-time.Hour)
	for i := range backlog {
		r := sensors.Reading{Sensor: "backlog", Time: at.Add(time.Duration(i) * 36 * time.Millisecond), Values: sensors.Values{
			"temperature_c": 21.53 + float64(i%100)/100, "humidity_pct": 40.1, "pressure_hpa": 1013.2,
		}}
		if _, err := ob.Append(r.Time, func(seq uint64) ([]byte, error) {
			p, err := message.Encode(device, seq, r)
			return message.Frame(topic, p, nil), err
		}); err != nil {
			b.Fatal(err)
		}
	}
	if st := ob.Stats(); st.Backlog != backlog || st.DiskErr != nil {
		b.Fatalf("outbox after prefill: %+v", st)
	}
	if err := ob.Close(); err != nil {
		b.Fatal(err)
	}
}

// subscriber is a paho client with a persistent session (clean session
// off) subscribed at QoS 1 to the backlog topic, counting distinct seqs.
type subscriber struct {
	opts   *mqtt.ClientOptions
	client mqtt.Client

	mu    sync.Mutex
	seqs  map[uint64]bool
	dups  int
	last  time.Time
	ready chan struct{}
}

func newSubscriber(b *testing.B, brokerURL, certDir string) *subscriber {
	bundle, err := certs.Load(certDir, certs.Names{}, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	src := certs.NewSource(certDir, certs.Names{}, bundle, nil)
	s := &subscriber{seqs: map[uint64]bool{}, ready: make(chan struct{})}
	// Messages queued for the session arrive before any Subscribe call
	// returns: the default handler takes them.
	s.opts = mqtt.NewClientOptions().AddBroker(brokerURL).SetClientID("monitor-drain").
		SetTLSConfig(certs.ClientTLSConfig(src, certs.TLSOpts{Host: "127.0.0.1"})).
		SetCleanSession(false).SetAutoReconnect(false).SetDefaultPublishHandler(s.receive)
	b.Cleanup(s.disconnect)
	return s
}

func (s *subscriber) connect(b *testing.B) {
	s.client = mqtt.NewClient(s.opts)
	if tok := s.client.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		b.Fatalf("subscriber connect: %v", tok.Error())
	}
	if tok := s.client.Subscribe(topic, 1, nil); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		b.Fatalf("subscribe: %v", tok.Error())
	}
}

func (s *subscriber) disconnect() {
	if s.client != nil && s.client.IsConnectionOpen() {
		s.client.Disconnect(100)
	}
}

func (s *subscriber) receive(_ mqtt.Client, m mqtt.Message) {
	if m.Topic() != topic {
		return
	}
	var r struct{ Seq uint64 }
	if err := json.Unmarshal(m.Payload(), &r); err != nil {
		panic(fmt.Sprintf("payload %q: %v", m.Payload(), err))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seqs[r.Seq] {
		s.dups++
		return
	}
	s.seqs[r.Seq] = true
	s.last = time.Now()
	if len(s.seqs) == backlog {
		close(s.ready)
	}
}

// waitAll waits for every reading and returns when the last one arrived.
func (s *subscriber) waitAll(b *testing.B, timeout time.Duration) time.Time {
	select {
	case <-s.ready:
	case <-time.After(timeout):
		s.mu.Lock()
		n := len(s.seqs)
		s.mu.Unlock()
		b.Fatalf("subscriber has %d of %d readings after %v", n, backlog, timeout)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

func (s *subscriber) duplicates() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dups
}
