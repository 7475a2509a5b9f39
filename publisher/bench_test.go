package publisher_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgepub/edgepub/certs"
	"github.com/edgepub/edgepub/internal/mosquittotest"
	"github.com/edgepub/edgepub/internal/tutorialpki"
	"github.com/edgepub/edgepub/message"
	"github.com/edgepub/edgepub/sensors"
)

// BenchmarkDelivery compares, against one real Mosquitto with the seed's
// mTLS listener and in one run, how fast a subscriber receives QoS 1
// messages from
//
//   - paho: a bare paho loop with a sliding window (publish until W are in
//     flight, then wait on the oldest token);
//   - edgepub-drain: publisher.Run over a real outbox that holds all the
//     readings before it starts (a backlog);
//   - edgepub-live: publisher.Run while the readings are appended to the
//     outbox as fast as possible (sensors and delivery at once);
//   - mosquitto_pub: `mosquitto_pub -l -q 1 -M W` fed the same payloads,
//     60,000 lines (it stops silently once its 16-bit message ids wrap).
//
// Each publisher is its own process (bench/publish, or mosquitto_pub), so
// its CPU time per message is measured too: on a shared 2-core machine that
// is steadier than the rate. Rates are counted at one paho subscriber (the
// monitor identity) from its first to its last message, which leaves
// connects and handshakes out for all alike. Every round runs each variant
// once, in rotating order; the metrics are medians over the rounds
// (deliveryRounds times b.N; -benchtime 1x keeps Go from a second pass):
//
//	go test -run '^$' -bench BenchmarkDelivery -benchtime 1x -timeout 20m ./publisher
//
// The edgepub variants run with the daemon's Go runtime settings
// (daemonRuntime), paho with Go's defaults. bench/publish also reports its
// read and write syscalls, logged per message.
//
// EDGEPUB_BENCH_BEFORE=path adds the variant before-drain: edgepub-drain
// run by that build of bench/publish, to compare a change in the same run.
//
// With EDGEPUB_BENCH_PROFILE=dir the edgepub and paho runs write CPU
// profiles of their publishing span there (go tool pprof dir/edgepub-drain-w64-r0.pprof).
func BenchmarkDelivery(b *testing.B) {
	env := newDeliveryEnv(b)
	for _, window := range []int{64, 256} {
		b.Run("window="+strconv.Itoa(window), func(b *testing.B) {
			variants := []string{"paho", "edgepub-drain", "edgepub-live", "mosquitto_pub"}
			if env.beforePath != "" {
				variants = append(variants, "before-drain")
			}
			rates := map[string][]float64{}
			cpu := map[string][]float64{}
			reads, writes := map[string][]float64{}, map[string][]float64{}
			for round := range deliveryRounds * b.N {
				for i := range variants {
					name := variants[(i+round)%len(variants)]
					topic := fmt.Sprintf("%s/bench/w%d-r%d/%s", deviceID, window, round, name)
					var r deliveryRun
					if name == "mosquitto_pub" {
						r = env.mosquittoPub(b, topic, window)
					} else {
						r = env.worker(b, name, topic, window, round)
					}
					rates[name] = append(rates[name], r.rate)
					cpu[name] = append(cpu[name], r.cpuMicrosPerMsg)
					reads[name] = append(reads[name], r.readsPerMsg)
					writes[name] = append(writes[name], r.writesPerMsg)
				}
			}
			for _, name := range variants {
				b.ReportMetric(median(rates[name]), name+"-msg/s")
				b.ReportMetric(median(cpu[name]), name+"-cpu-µs/msg")
				b.Logf("window %d %-14s msg/s %v  cpu µs/msg %v", window, name, roundAll(rates[name]), roundTo(cpu[name], 10))
				if name != "mosquitto_pub" {
					b.Logf("window %d %-14s syscalls/msg read %v write %v", window, name, roundTo(reads[name], 100), roundTo(writes[name], 100))
				}
				// Each round's ratio to the anchors' runs of the same round,
				// so that load from other processes that changes between
				// rounds cancels out.
				for _, anchor := range []string{"paho", "mosquitto_pub"} {
					if name == anchor || (anchor == "mosquitto_pub" && name == "paho") {
						continue
					}
					ratios := make([]float64, len(rates[name]))
					for i := range ratios {
						ratios[i] = rates[name][i] / rates[anchor][i]
					}
					b.ReportMetric(median(ratios), name+"/"+anchor)
					b.Logf("window %d %-14s / %s %v", window, name, anchor, roundTo(ratios, 100))
				}
			}
		})
	}
}

const (
	// deliveryRounds is how many times each variant runs per b.N.
	deliveryRounds = 5
	// deliveryMessages is the size of one paho or edgepub run.
	deliveryMessages = 100_000
	// mosquittoPubLines stays below the point (about 34k of 100k lines) at
	// which mosquitto_pub 2.0.11 stops sending once its message ids wrap.
	mosquittoPubLines = 60_000
	deviceID          = "Kai"
	// subscriberQoS is 0 so that the broker's outgoing window to the
	// subscriber (max_inflight_messages 20 by default) does not bound the
	// rates being compared; every message is still counted, and a missing
	// one fails the run.
	subscriberQoS = 0
)

// deliveryEnv is one broker, the device's cert dir, the bench/publish
// program and a subscriber that counts what arrives under Kai/bench/#.
type deliveryEnv struct {
	pki        *tutorialpki.PKI
	broker     *mosquittotest.Broker
	deviceDir  string
	workerPath string
	// beforePath is another build of bench/publish (EDGEPUB_BENCH_BEFORE),
	// e.g. from the commit before a change, run as variant before-drain.
	beforePath string
	sub        *countingSubscriber
}

func newDeliveryEnv(b *testing.B) *deliveryEnv {
	pki := mosquittotest.NewSeedPKI(b, "127.0.0.1", deviceID)
	broker := mosquittotest.Start(b, mosquittotest.Opts{PKI: pki})
	env := &deliveryEnv{pki: pki, broker: broker, deviceDir: pki.DeviceDir(b, deviceID)}
	env.workerPath = filepath.Join(b.TempDir(), "publish")
	env.beforePath = os.Getenv("EDGEPUB_BENCH_BEFORE")
	if out, err := exec.Command("go", "build", "-o", env.workerPath, "github.com/edgepub/edgepub/bench/publish").CombinedOutput(); err != nil {
		b.Fatalf("go build bench/publish: %v\n%s", err, out)
	}
	env.sub = subscribe(b, broker.URL(), loadCerts(b, pki.DeviceDir(b, "monitor")), deviceID+"/bench/#")
	return env
}

func loadCerts(b *testing.B, dir string) *certs.Source {
	bundle, err := certs.Load(dir, certs.Names{}, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	return certs.NewSource(dir, certs.Names{}, bundle, nil)
}

// deliveryRun is one variant's result.
type deliveryRun struct {
	rate            float64 // msg/s at the subscriber
	cpuMicrosPerMsg float64 // of the publishing process
	// readsPerMsg and writesPerMsg are its read and write syscalls per
	// message (bench/publish only).
	readsPerMsg, writesPerMsg float64
}

// worker runs bench/publish for one variant.
func (env *deliveryEnv) worker(b *testing.B, variant, topic string, window, round int) deliveryRun {
	arr := env.sub.expect(topic, deliveryMessages)
	args := []string{"-variant", variant, "-broker", env.broker.URL(), "-certs", env.deviceDir, "-topic", topic,
		"-n", strconv.Itoa(deliveryMessages), "-window", strconv.Itoa(window), "-dir", b.TempDir()}
	if dir := os.Getenv("EDGEPUB_BENCH_PROFILE"); dir != "" {
		args = append(args, "-cpuprofile", filepath.Join(dir, fmt.Sprintf("%s-w%d-r%d.pprof", variant, window, round)))
	}
	var stdout, stderr bytes.Buffer
	path := env.workerPath
	if variant == "before-drain" {
		path, args[1] = env.beforePath, "edgepub-drain"
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if variant != "paho" {
		cmd.Env = daemonRuntime(os.Environ())
	}
	if err := cmd.Run(); err != nil {
		b.Fatalf("%s: %v\n%s", variant, err, stderr.String())
	}
	var res struct {
		CPUSeconds float64 `json:"cpu_seconds"`
		ReadCalls  int64   `json:"read_calls"`
		WriteCalls int64   `json:"write_calls"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		b.Fatalf("%s printed %q: %v", variant, stdout.String(), err)
	}
	return deliveryRun{
		rate:            env.sub.wait(b, arr, variant, time.Minute),
		cpuMicrosPerMsg: res.CPUSeconds / deliveryMessages * 1e6,
		readsPerMsg:     float64(res.ReadCalls) / deliveryMessages,
		writesPerMsg:    float64(res.WriteCalls) / deliveryMessages,
	}
}

// daemonRuntime adds to env the Go runtime settings `edgepub run` makes
// unless its environment sets them (cmd/edgepub/cmd_run.go): GOGC=25 and
// one P. The edgepub variants run as the daemon would; the paho loop runs
// with Go's defaults, as a bare paho client would.
func daemonRuntime(env []string) []string {
	for _, kv := range []string{"GOGC=25", "GOMAXPROCS=1"} {
		name, _, _ := strings.Cut(kv, "=")
		if _, set := os.LookupEnv(name); !set {
			env = append(env, kv)
		}
	}
	return env
}

// mosquittoPub sends the payloads with `mosquitto_pub -l`.
func (env *deliveryEnv) mosquittoPub(b *testing.B, topic string, window int) deliveryRun {
	var in bytes.Buffer
	at := time.Now()
	for i := range mosquittoPubLines {
		p, err := message.Encode(deviceID, uint64(i+1), sensors.Reading{Sensor: "environment",
			Time: at.Add(time.Duration(i) * time.Millisecond), Values: sensors.Values{
				"temperature_c": 21.53 + float64(i%100)/100, "humidity_pct": 40.1, "pressure_hpa": 1013.2}})
		if err != nil {
			b.Fatal(err)
		}
		in.Write(p)
		in.WriteByte('\n')
	}
	arr := env.sub.expect(topic, mosquittoPubLines)
	cmd := exec.Command("mosquitto_pub", "-h", "127.0.0.1", "-p", strconv.Itoa(env.broker.Port()),
		"--cafile", env.pki.File("ca.crt"), "--cert", env.pki.File(deviceID+".crt"), "--key", env.pki.File(deviceID+".key"),
		"-i", deviceID, "-q", "1", "-M", strconv.Itoa(window), "-t", topic, "-l")
	cmd.Stdin = &in
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("mosquitto_pub: %v\n%s", err, out)
	}
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return deliveryRun{
		rate:            env.sub.wait(b, arr, "mosquitto_pub", time.Minute),
		cpuMicrosPerMsg: float64(cpu.Microseconds()) / mosquittoPubLines,
	}
}

// countingSubscriber counts messages per topic and remembers when the first
// and the latest arrived.
type countingSubscriber struct {
	client mqtt.Client

	mu     sync.Mutex
	topics map[string]*arrivals
}

type arrivals struct {
	n, want     int
	first, last time.Time
	done        chan struct{}
}

func subscribe(b *testing.B, url string, src *certs.Source, filter string) *countingSubscriber {
	s := &countingSubscriber{topics: map[string]*arrivals{}}
	o := mqtt.NewClientOptions().AddBroker(url).SetClientID("monitor-bench").
		SetTLSConfig(certs.ClientTLSConfig(src, certs.TLSOpts{Host: "127.0.0.1"})).
		SetCleanSession(true).SetAutoReconnect(false)
	s.client = mqtt.NewClient(o)
	if tok := s.client.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		b.Fatalf("subscriber connect: %v", tok.Error())
	}
	if tok := s.client.Subscribe(filter, subscriberQoS, s.receive); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		b.Fatalf("subscribe %s: %v", filter, tok.Error())
	}
	b.Cleanup(func() { s.client.Disconnect(100) })
	return s
}

func (s *countingSubscriber) receive(_ mqtt.Client, m mqtt.Message) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.topics[m.Topic()]
	if a == nil {
		return
	}
	if a.n == 0 {
		a.first = now
	}
	a.n++
	a.last = now
	if a.n == a.want {
		close(a.done)
	}
}

// expect registers topic before anything is sent to it.
func (s *countingSubscriber) expect(topic string, n int) *arrivals {
	a := &arrivals{want: n, done: make(chan struct{})}
	s.mu.Lock()
	s.topics[topic] = a
	s.mu.Unlock()
	return a
}

// wait returns the rate from the first to the last of the messages, or
// fails the benchmark if they do not all arrive within timeout.
func (s *countingSubscriber) wait(b *testing.B, a *arrivals, what string, timeout time.Duration) float64 {
	select {
	case <-a.done:
	case <-time.After(timeout):
		s.mu.Lock()
		n := a.n
		s.mu.Unlock()
		b.Fatalf("%s: subscriber got %d of %d messages within %v", what, n, a.want, timeout)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return float64(a.n-1) / a.last.Sub(a.first).Seconds()
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func roundTo(xs []float64, scale float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = float64(int(x*scale+0.5)) / scale
	}
	return out
}

func roundAll(xs []float64) []int {
	out := make([]int, len(xs))
	for i, x := range xs {
		out[i] = int(x + 0.5)
	}
	return out
}
