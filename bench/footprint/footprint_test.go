package footprint

import (
	"encoding/json"
	"fmt"
	"maps"
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
	"github.com/edgepub/edgepub/internal/edgepubproc"
	"github.com/edgepub/edgepub/internal/mosquittotest"
	"github.com/edgepub/edgepub/message"
	"github.com/edgepub/edgepub/outbox"
)

const (
	// warmUp lets the daemon reach its steady state before the window
	// starts: its RSS climbs for about two minutes after the start (the
	// heap grows to the GC's 4 MiB minimum goal) and then levels off.
	warmUp = 2 * time.Minute
	// outageWarmUp lets the first segments fill before an outage window.
	outageWarmUp = 5 * time.Second
	// window is how long the steady state is measured.
	window = 60 * time.Second
)

// BenchmarkFootprint runs `edgepub run` with 10 simulated sensors read
// once a second against a local Mosquitto (the seed's mTLS listener) and,
// in the same run, a bare paho client that only stays connected (the
// anchor) and, if $EDGEPUB_BENCH_BEFORE names another edgepub binary (an
// older commit built the same way), that one too with its own identity and
// the environment in $EDGEPUB_BENCH_BEFORE_ENV (e.g. GOGC=100, to compare
// one build under two settings).
// Over a 60 s window after a 2 min warm-up it reports each process's RSS
// (peak and mean of 1 s samples, anonymous and file-backed at the end)
// and the pages it touched in the window (Referenced after clear_refs), CPU
// (run time of its threads from /proc/PID/task/*/schedstat, and
// utime+stime, as % of one core), wake-ups per second (timeslices from the
// same schedstat) and bytes written to storage per reading
// (write_bytes − cancelled_write_bytes of /proc/PID/io) against the mean
// payload size counted at a subscriber.
//
//	EDGEPUB_BENCH_DIR=/mnt/benchfs go test -run '^$' -bench BenchmarkFootprint -benchtime 1x ./bench/footprint
func BenchmarkFootprint(b *testing.B) {
	type daemon struct{ name, device, bin string }
	for range b.N {
		daemons := []daemon{{"edgepub", "Kai", edgepubproc.Build(b)}}
		if before := os.Getenv("EDGEPUB_BENCH_BEFORE"); before != "" {
			daemons = append(daemons, daemon{"before", "Kai2", before})
		}
		devices := []string{"Idle"}
		for _, d := range daemons {
			devices = append(devices, d.device)
		}
		pki := mosquittotest.NewSeedPKI(b, "127.0.0.1", devices...)
		broker := mosquittotest.Start(b, mosquittotest.Opts{PKI: pki})
		sub := subscribe(b, broker.URL(), pki.DeviceDir(b, "monitor"), "+/sensors/#")
		idle := startIdleClient(b, broker.URL(), pki.DeviceDir(b, "Idle"))
		procs := make([]*edgepubproc.Proc, len(daemons))
		for i, d := range daemons {
			config := edgepubproc.Config{
				Broker: broker.URL(), CertDir: pki.DeviceDir(b, d.device), StateDir: edgepubproc.StateDir(b),
				Sensors: 10, Interval: time.Second,
			}.Write(b)
			var env []string
			if d.name == "before" {
				env = strings.Fields(os.Getenv("EDGEPUB_BENCH_BEFORE_ENV"))
			}
			procs[i] = edgepubproc.Start(b, d.bin, edgepubproc.Opts{Config: config, Env: env})
		}
		for _, p := range procs {
			p.WaitLog("connected to broker", 30*time.Second)
		}
		time.Sleep(warmUp)

		pids := []int{idle}
		for _, p := range procs {
			pids = append(pids, p.PID())
		}
		for _, pid := range pids {
			edgepubproc.ClearRefs(b, pid)
		}
		first, seen := readAll(b, pids), sub.mark()
		rss := make([][]float64, len(pids))
		for t := time.NewTicker(time.Second); len(rss[0]) < int(window/time.Second); <-t.C {
			for i, pid := range pids {
				rss[i] = append(rss[i], float64(edgepubproc.Read(b, pid).RSSKiB)/1024)
			}
		}
		last := readAll(b, pids)
		elapsed := last[0].At.Sub(first[0].At)
		pct := func(d time.Duration) float64 { return 100 * d.Seconds() / elapsed.Seconds() }
		names := []string{"idle-paho"}
		for _, d := range daemons {
			names = append(names, d.name)
		}
		for i, name := range names {
			run, ticks := last[i].RunTime-first[i].RunTime, last[i].CPU-first[i].CPU
			wakeups := float64(last[i].Timeslices-first[i].Timeslices) / elapsed.Seconds()
			b.ReportMetric(slices.Max(rss[i]), name+"-rss-peak-MiB")
			b.ReportMetric(mean(rss[i]), name+"-rss-mean-MiB")
			b.ReportMetric(pct(run), name+"-cpu-%")
			b.ReportMetric(wakeups, name+"-wakeups/s")
			b.ReportMetric(float64(last[i].ReferencedKiB)/1024, name+"-touched-MiB")
			b.Logf("%s: RSS peak %.2f MiB mean %.2f MiB (%.2f× the idle client; at the end %s, VmHWM %.1f MiB); pages touched in the window %.2f MiB; CPU %.1f ms run time over %.1f s = %.3f %% of one core (utime+stime %.2f s = %.2f %%); %.1f wake-ups/s",
				name, slices.Max(rss[i]), mean(rss[i]), mean(rss[i])/mean(rss[0]), split(last[i]), float64(last[i].HWMKiB)/1024, float64(last[i].ReferencedKiB)/1024,
				float64(run.Microseconds())/1000, elapsed.Seconds(), pct(run), ticks.Seconds(), pct(ticks), wakeups)
			if i == 0 {
				continue
			}
			d := daemons[i-1]
			readings, payload := sub.since(seen, d.device)
			perReading := float64(last[i].NetWrites()-first[i].NetWrites()) / float64(readings)
			b.ReportMetric(perReading, d.name+"-disk-B/reading")
			b.ReportMetric(float64(run.Microseconds())/float64(readings), d.name+"-cpu-µs/reading")
			b.Logf("%s: RSS each second (MiB): %v", d.name, oneDecimal(rss[i]))
			b.Logf("%s: %d readings at the subscriber (%.1f/s), mean payload %.1f B, %.1f µs of CPU per reading; storage writes %d − cancelled %d = %d B = %.2f B/reading = %.4f × payload",
				d.name, readings, float64(readings)/elapsed.Seconds(), payload, float64(run.Microseconds())/float64(readings),
				last[i].WriteBytes-first[i].WriteBytes, last[i].CancelledWriteBytes-first[i].CancelledWriteBytes,
				last[i].NetWrites()-first[i].NetWrites(), perReading, perReading/payload)
		}
		for _, p := range procs {
			p.Stop()
		}
	}
}

func readAll(b *testing.B, pids []int) []edgepubproc.Sample {
	out := make([]edgepubproc.Sample, len(pids))
	for i, pid := range pids {
		out[i] = edgepubproc.Read(b, pid)
	}
	return out
}

// BenchmarkOutageWrites runs `edgepub run` with 10 simulated sensors read
// every 10 ms (1,000 readings a second) and no broker, and reports the bytes
// it wrote to storage per reading over a 60 s window against the mean
// payload size of the readings in the outbox, plus its RSS and CPU.
//
//	go test -run '^$' -bench BenchmarkOutageWrites -benchtime 1x ./bench/footprint
func BenchmarkOutageWrites(b *testing.B) {
	for range b.N {
		pki := mosquittotest.NewSeedPKI(b, "127.0.0.1", "Kai")
		// Nothing listens on this port: the broker is away for the whole run.
		noBroker := "ssl://127.0.0.1:" + strconv.Itoa(mosquittotest.FreePort(b))
		stateDir := edgepubproc.StateDir(b)
		config := edgepubproc.Config{
			Broker: noBroker, CertDir: pki.DeviceDir(b, "Kai"), StateDir: stateDir,
			Sensors: 10, Interval: 10 * time.Millisecond,
		}.Write(b)
		p := edgepubproc.Start(b, edgepubproc.Build(b), edgepubproc.Opts{Config: config})
		p.WaitLog("edgepub started", 30*time.Second)
		time.Sleep(outageWarmUp)

		first := edgepubproc.Read(b, p.PID())
		var rss []float64
		for t := time.NewTicker(time.Second); len(rss) < int(window/time.Second); <-t.C {
			rss = append(rss, float64(edgepubproc.Read(b, p.PID()).RSSKiB)/1024)
		}
		last := edgepubproc.Read(b, p.PID())
		p.Stop()

		readings, payload := outboxReadings(b, filepath.Join(stateDir, "outbox"), first.At, last.At)
		elapsed := last.At.Sub(first.At)
		perReading := float64(last.NetWrites()-first.NetWrites()) / float64(readings)
		b.ReportMetric(float64(readings)/elapsed.Seconds(), "readings/s")
		b.ReportMetric(perReading, "disk-B/reading")
		b.ReportMetric(perReading/payload, "disk/payload")
		b.ReportMetric(slices.Max(rss), "rss-peak-MiB")
		b.ReportMetric(100*(last.CPU-first.CPU).Seconds()/elapsed.Seconds(), "cpu-%")
		b.Logf("edgepub without broker: %d readings in %.1f s (%.0f/s), mean payload %.1f B; storage writes %d − cancelled %d = %d B = %.1f B/reading = %.3f × payload; RSS peak %.1f MiB; CPU %.1f %% of one core",
			readings, elapsed.Seconds(), float64(readings)/elapsed.Seconds(), payload,
			last.WriteBytes-first.WriteBytes, last.CancelledWriteBytes-first.CancelledWriteBytes,
			last.NetWrites()-first.NetWrites(), perReading, perReading/payload, slices.Max(rss),
			100*(last.CPU-first.CPU).Seconds()/elapsed.Seconds())
	}
}

// outboxReadings opens the stopped daemon's outbox and returns how many
// readings were taken between from and to and their mean MQTT payload size.
func outboxReadings(b *testing.B, dir string, from, to time.Time) (int, float64) {
	ob, err := outbox.Open(dir, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ob.Close()
	recs, err := ob.Pending(0, 1<<30)
	if err != nil {
		b.Fatal(err)
	}
	n, size := 0, 0
	for _, r := range recs {
		if r.Time.Before(from) || !r.Time.Before(to) {
			continue
		}
		f, err := message.Unframe(r.Payload)
		if err != nil {
			b.Fatal(err)
		}
		n++
		size += len(f.Payload)
	}
	if n == 0 {
		b.Fatalf("no readings in the outbox between %v and %v", from, to)
	}
	return n, float64(size) / float64(n)
}

func startIdleClient(b *testing.B, brokerURL, certDir string) int {
	bin := edgepubproc.BuildPackage(b, "github.com/edgepub/edgepub/bench/footprint/idleclient")
	cmd := exec.Command(bin, "-broker", brokerURL, "-certs", certDir, "-duration", "5m")
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line := make([]byte, 64)
	if n, _ := out.Read(line); !strings.HasPrefix(string(line[:n]), "connected") {
		b.Fatalf("idleclient did not connect: %q", line[:n])
	}
	return cmd.Process.Pid
}

// readingCounter is a paho subscriber (the monitor identity) that counts
// readings and their payload bytes per device (the first topic level).
type readingCounter struct {
	mu    sync.Mutex
	n     map[string]int
	bytes map[string]int
}

func subscribe(b *testing.B, brokerURL, certDir, filter string) *readingCounter {
	bundle, err := certs.Load(certDir, certs.Names{}, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	src := certs.NewSource(certDir, certs.Names{}, bundle, nil)
	c := &readingCounter{n: map[string]int{}, bytes: map[string]int{}}
	o := mqtt.NewClientOptions().AddBroker(brokerURL).SetClientID("monitor-footprint").
		SetTLSConfig(certs.ClientTLSConfig(src, certs.TLSOpts{Host: "127.0.0.1"})).SetAutoReconnect(false)
	client := mqtt.NewClient(o)
	if tok := client.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		b.Fatalf("subscriber connect: %v", tok.Error())
	}
	b.Cleanup(func() { client.Disconnect(100) })
	tok := client.Subscribe(filter, 1, func(_ mqtt.Client, m mqtt.Message) {
		var r struct{ Seq uint64 }
		if json.Unmarshal(m.Payload(), &r) != nil || r.Seq == 0 {
			return // not a reading
		}
		device, _, _ := strings.Cut(m.Topic(), "/")
		c.mu.Lock()
		c.n[device]++
		c.bytes[device] += len(m.Payload())
		c.mu.Unlock()
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		b.Fatalf("subscribe: %v", tok.Error())
	}
	return c
}

// counts is a snapshot of a readingCounter.
type counts struct{ n, bytes map[string]int }

// mark returns the counts so far, for since.
func (c *readingCounter) mark() counts {
	c.mu.Lock()
	defer c.mu.Unlock()
	return counts{maps.Clone(c.n), maps.Clone(c.bytes)}
}

// since returns the device's readings after m and their mean payload size.
func (c *readingCounter) since(m counts, device string) (int, float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n[device] - m.n[device]
	if n == 0 {
		return 0, 0
	}
	return n, float64(c.bytes[device]-m.bytes[device]) / float64(n)
}

func oneDecimal(xs []float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = float64(int(x*10+0.5)) / 10
	}
	return out
}

// split shows what RSS is made of.
func split(s edgepubproc.Sample) string {
	return fmt.Sprintf("anon %.1f + file %.1f MiB", float64(s.RssAnonKiB)/1024, float64(s.RssFileKiB)/1024)
}

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}
