package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/edgepub/edgepub/certs"
)

// consoleOpts configures the console benchmark (-console).
type consoleOpts struct {
	conns   int
	warmup  time.Duration
	measure time.Duration
}

// runConsole measures `edgepub fleet --listen` following o.n devices. The
// devices are synthetic: status, health (every -health-interval) and a
// reading every -interval each, published by "sim" over a few MQTT
// connections, the way real devices' messages reach the console through
// the broker. A mosquitto_sub on the same topics, which only receives, is
// the anchor measured in the same run.
func runConsole(ctx context.Context, o options) error {
	started := time.Now()
	if _, err := raiseFileLimit(1024); err != nil {
		return err
	}
	bin, err := lookMosquitto()
	if err != nil {
		return err
	}
	dir := o.dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "edgepub-console-"); err != nil {
			return err
		}
	}
	if !o.keep {
		defer os.RemoveAll(dir)
	}
	rate := float64(o.n) / o.device.Interval.Seconds()
	say("console: %d synthetic devices, a reading every %v and health every %v each (%.0f readings/s), over %d connections; warm-up %v, measured %v",
		o.n, o.device.Interval, o.device.HealthInterval, rate, o.console.conns, o.console.warmup, o.console.measure)

	edgepub := filepath.Join(dir, "edgepub")
	build := exec.CommandContext(ctx, "go", "build", "-tags", "nodemo", "-trimpath", "-ldflags", "-s -w", "-o", edgepub, "./cmd/edgepub")
	build.Env = append(os.Environ(), "CGO_ENABLED=0") // as the packages are built
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/edgepub (run from the repository root): %v\n%s", err, out)
	}
	pki, _, err := makePKI(dir, 0, keyOpts{}, time.Now())
	if err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir+"/broker", 0o700); err != nil {
		return err
	}
	b, err := newBroker(bin, dir+"/broker", port, pki, "\nuser sim\ntopic write #\n")
	if err != nil {
		return err
	}
	if err := b.start(ctx); err != nil {
		return err
	}
	defer b.kill()

	metricsPort, err := freePort()
	if err != nil {
		return err
	}
	metricsAddr := "127.0.0.1:" + strconv.Itoa(metricsPort)
	console := exec.Command(edgepub, "fleet", "--broker", b.url(), "--cert-dir", pki.MonitorDir, "--listen", metricsAddr)
	console.Stderr = os.Stderr
	if err := console.Start(); err != nil {
		return err
	}
	defer func() { console.Process.Kill(); console.Wait() }()
	anchor := exec.Command("mosquitto_sub", "-h", "127.0.0.1", "-p", strconv.Itoa(port),
		"--cafile", pki.CA, "--cert", pki.MonitorCert, "--key", pki.MonitorKey,
		"-q", "1", "-i", "anchor", "-t", "+/status", "-t", "+/health", "-t", "+/sensors/#")
	if err := anchor.Start(); err != nil {
		return fmt.Errorf("start mosquitto_sub (apt-get install -y mosquitto-clients): %w", err)
	}
	defer func() { anchor.Process.Kill(); anchor.Wait() }()
	if _, err := scrapeFleet(ctx, metricsAddr, 30*time.Second); err != nil {
		return err
	}
	time.Sleep(time.Second) // both subscriptions in place; nothing is published yet
	idleRSS := rssOf(fmt.Sprintf("/proc/%d/status", console.Process.Pid))

	sim, err := startSimulator(ctx, b.url(), pki.SimDir, o)
	if err != nil {
		return err
	}
	defer sim.stop()
	if err := sleepCtx(ctx, o.console.warmup); err != nil {
		return err
	}
	procs := map[string]int{"edgepub fleet": console.Process.Pid, "mosquitto_sub (anchor)": anchor.Process.Pid, "mosquitto": b.cmd.Process.Pid, "bench (simulator)": os.Getpid()}
	cpu0 := map[string]int64{}
	for name, pid := range procs {
		cpu0[name] = cpuTicks(pid)
	}
	sent0, t0 := sim.sent.Load(), time.Now()
	if err := sleepCtx(ctx, o.console.measure); err != nil {
		return err
	}
	window := time.Since(t0)
	sent := sim.sent.Load() - sent0
	var usage []string
	cpuOf := map[string]float64{}
	for _, name := range []string{"edgepub fleet", "mosquitto_sub (anchor)", "mosquitto", "bench (simulator)"} {
		cpuOf[name] = float64(cpuTicks(procs[name])-cpu0[name]) / clockTicks / window.Seconds()
		usage = append(usage, fmt.Sprintf("%s %.1f%%", name, 100*cpuOf[name]))
	}
	rss := rssOf(fmt.Sprintf("/proc/%d/status", console.Process.Pid))
	say("measured %v: %d messages published (%.0f/s); CPU of one core: %s", window.Round(time.Millisecond), sent, float64(sent)/window.Seconds(), strings.Join(usage, ", "))
	say("edgepub fleet: %.1f µs CPU per message (anchor mosquitto_sub %.1f µs); %.2f ms CPU per device per minute; RSS %s = %s per device (%s idle before the devices)",
		1e6*cpuOf["edgepub fleet"]*window.Seconds()/float64(sent), 1e6*cpuOf["mosquitto_sub (anchor)"]*window.Seconds()/float64(sent),
		1e3*cpuOf["edgepub fleet"]*60/float64(o.n), mib(rss), kib((rss-idleRSS)/int64(o.n)), mib(idleRSS))

	sim.stop()
	t := time.Now()
	m, err := scrapeFleet(ctx, metricsAddr, 30*time.Second)
	if err != nil {
		return err
	}
	say("one /metrics scrape: %v, %d series; devices online %d of %d, readings %.0f, missing %.0f, duplicates %.0f",
		time.Since(t).Round(time.Millisecond), m.series, m.online, o.n, m.readings, m.missing, m.duplicates)
	say("total run time %v", time.Since(started).Round(time.Second))
	if m.online != o.n || m.missing != 0 || m.duplicates != 0 {
		return fmt.Errorf("the console saw %d of %d devices online, %.0f missing, %.0f duplicates: it fell behind or counts wrong", m.online, o.n, m.missing, m.duplicates)
	}
	return nil
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on Linux.
const clockTicks = 100

// cpuTicks is a process's user plus system time in clock ticks.
func cpuTicks(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses: state is
	// the first, utime the 12th and stime the 13th.
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st
}

type fleetMetrics struct {
	series                        int
	online                        int
	readings, missing, duplicates float64
}

// scrapeFleet reads the console's /metrics, retrying until it answers.
func scrapeFleet(ctx context.Context, addr string, limit time.Duration) (fleetMetrics, error) {
	deadline := time.Now().Add(limit)
	for {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err == nil {
			defer resp.Body.Close()
			parser := expfmt.NewTextParser(model.UTF8Validation)
			families, err := parser.TextToMetricFamilies(resp.Body)
			if err != nil {
				return fleetMetrics{}, err
			}
			var m fleetMetrics
			for name, mf := range families {
				for _, s := range mf.GetMetric() {
					m.series++
					switch name {
					case "edgepub_device_online":
						if s.GetGauge().GetValue() == 1 {
							m.online++
						}
					case "edgepub_device_readings_total":
						m.readings += s.GetCounter().GetValue()
					case "edgepub_device_readings_missing_total":
						m.missing += s.GetCounter().GetValue()
					case "edgepub_device_readings_duplicate_total":
						m.duplicates += s.GetCounter().GetValue()
					}
				}
			}
			return m, nil
		}
		if time.Now().After(deadline) {
			return fleetMetrics{}, fmt.Errorf("edgepub fleet did not serve /metrics within %v: %w", limit, err)
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return fleetMetrics{}, err
		}
	}
}

// simulator publishes the synthetic devices' messages.
type simulator struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	sent   atomic.Int64
	once   sync.Once
}

func startSimulator(ctx context.Context, brokerURL, certDir string, o options) (*simulator, error) {
	names := certs.Names{}
	bundle, err := certs.Load(certDir, names, time.Now())
	if err != nil {
		return nil, err
	}
	src := certs.NewSource(certDir, names, bundle, nil)
	ctx, cancel := context.WithCancel(ctx)
	s := &simulator{cancel: cancel}
	clients := make([]mqtt.Client, o.console.conns)
	for i := range clients {
		opts := mqtt.NewClientOptions().AddBroker(brokerURL).SetClientID(fmt.Sprintf("sim-%d", i)).
			SetTLSConfig(certs.ClientTLSConfig(src, certs.TLSOpts{Host: "127.0.0.1"})).
			SetCleanSession(true).SetAutoReconnect(false).SetWriteTimeout(10 * time.Second)
		clients[i] = mqtt.NewClient(opts)
		if tok := clients[i].Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			cancel()
			return nil, fmt.Errorf("simulator connect: %v", tok.Error())
		}
	}
	healthEvery := max(1, int(o.device.HealthInterval/o.device.Interval))
	start := time.Now()
	for c, client := range clients {
		s.wg.Go(func() {
			defer client.Disconnect(250)
			// Devices c, c+conns, … in turn; device d's k-th reading is due
			// at start + k·interval + d·interval/n, so the load is even.
			step := o.device.Interval / time.Duration(o.n)
			var window []mqtt.Token
			for k := 0; ctx.Err() == nil; k++ {
				for d := c; d < o.n && ctx.Err() == nil; d += len(clients) {
					due := start.Add(time.Duration(k)*o.device.Interval + time.Duration(d)*step)
					if wait := time.Until(due); wait > 0 {
						sleepCtx(ctx, wait)
					}
					name := fmt.Sprintf("dev-%05d", d)
					if k == 0 {
						window = append(window, client.Publish(name+"/status", 1, true, "online"))
					}
					if k%healthEvery == 0 {
						window = append(window, client.Publish(name+"/health", 1, true, syntheticHealth(name, k, o.device.Interval)))
					}
					window = append(window, client.Publish(name+"/sensors/environment", 1, false, syntheticReading(name, uint64(k+1))))
					// A bounded window of QoS 1 publishes, as a device keeps.
					if len(window) >= 64 {
						for _, tok := range window {
							tok.WaitTimeout(10 * time.Second)
						}
						s.sent.Add(int64(len(window)))
						window = window[:0]
					}
				}
			}
		})
	}
	return s, nil
}

func (s *simulator) stop() {
	s.once.Do(func() { s.cancel(); s.wg.Wait() })
}

// syntheticReading is a reading as publisher.EncodeReading makes it.
func syntheticReading(device string, seq uint64) string {
	return fmt.Sprintf(`{"device":%q,"sensor":"environment","seq":%d,"time":%q,"humidity_pct":40.1,"pressure_hpa":1013.2,"temperature_c":21.53}`,
		device, seq, time.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00"))
}

// syntheticHealth is a health message as internal/daemon sends it, with
// the fields and sizes of a real one.
func syntheticHealth(device string, k int, interval time.Duration) string {
	now := time.Now().UTC()
	notAfter := now.Add(800 * 24 * time.Hour).Format(time.RFC3339)
	return fmt.Sprintf(`{"device":%q,"version":"1.0.0","time":%q,"uptime_s":%d,"broker":"ssl://127.0.0.1:8883","connected":true,"reconnects":0,"delivered":%d,"backlog":0,"oldest_age_s":0,"dropped":0,"cert_days_left":800,`+
		`"certs":[{"cert":"client","subject":"CN=%s","not_after":%q,"days_left":800,"level":"ok"},{"cert":"ca","subject":"CN=MQTT-CA","not_after":%q,"days_left":800,"level":"ok"},{"cert":"broker","subject":"CN=127.0.0.1","not_after":%q,"days_left":800,"level":"ok"}],`+
		`"soc_temperature_c":48.3,"sensors":[{"name":"environment","last_success":%q,"errors":0,"failing":false}]}`,
		device, now.Format(time.RFC3339), int(time.Duration(k)*interval/time.Second), k, device, notAfter, notAfter, notAfter, now.Format(time.RFC3339))
}
