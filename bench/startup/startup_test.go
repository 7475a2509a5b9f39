package startup

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgepub/edgepub/internal/edgepubproc"
	"github.com/edgepub/edgepub/internal/mosquittotest"
	"github.com/edgepub/edgepub/message"
	"github.com/edgepub/edgepub/outbox"
	"github.com/edgepub/edgepub/sensors"
)

const (
	// starts is how many times each state dir is started.
	starts = 10
	// unacked is the backlog of the second target.
	unacked = 100_000
	// ackedBytes is how much acknowledged segment data the first target
	// leaves on disk: the default outbox.max_bytes, less one segment so the
	// cap drops nothing.
	ackedBytes = 63 << 20
	device     = "Kai"
	topic      = device + "/sensors/backlog"
)

// BenchmarkStartup times exec → READY=1 of `edgepub run` (the shipped
// build, one simulated sensor, a broker URL on 127.0.0.1 that nobody
// listens on) for three state dirs, each prepared once with the outbox
// package and copied fresh before every start. Each start ends with
// SIGKILL. The page cache holds the copied files, as after a restart of
// the service; after a power cycle they are read from the card.
//
//	go test -run '^$' -bench BenchmarkStartup -benchtime 1x ./bench/startup
func BenchmarkStartup(b *testing.B) {
	bin := edgepubproc.Build(b)
	pki := mosquittotest.NewSeedPKI(b, "127.0.0.1", device)
	broker := fmt.Sprintf("ssl://127.0.0.1:%d", mosquittotest.FreePort(b))

	templates := []struct {
		name    string
		prepare func(b *testing.B, dir string)
	}{
		{"empty", func(*testing.B, string) {}},
		{"acked-64MiB", prepareAcked},
		{"unacked-100k", prepareUnacked},
	}
	for range b.N {
		for _, tpl := range templates {
			template := b.TempDir()
			tpl.prepare(b, filepath.Join(template, "outbox"))
			var took []time.Duration
			for range starts {
				stateDir := b.TempDir()
				copyDir(b, template, stateDir)
				config := edgepubproc.Config{
					Broker: broker, CertDir: pki.DeviceDir(b, device), StateDir: stateDir,
					Sensors: 1, Interval: 10 * time.Second,
				}.Write(b)
				took = append(took, timeToReady(b, bin, config))
				os.RemoveAll(stateDir)
			}
			slices.Sort(took)
			median := took[len(took)/2]
			b.ReportMetric(float64(median.Microseconds())/1000, tpl.name+"-median-ms")
			b.ReportMetric(float64(took[len(took)-1].Microseconds())/1000, tpl.name+"-max-ms")
			b.Logf("%-13s %s: median %v, max %v (%s)", tpl.name, describe(b, template), median.Round(100*time.Microsecond),
				took[len(took)-1].Round(100*time.Microsecond), loadavg(b))
		}
	}
}

// timeToReady starts edgepub with NOTIFY_SOCKET set to a socket of its
// own and returns the time from just before exec to the READY=1 datagram.
func timeToReady(b *testing.B, bin, config string) time.Duration {
	b.Helper()
	sock := filepath.Join(b.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	p := edgepubproc.Start(b, bin, edgepubproc.Opts{Config: config, Env: []string{"NOTIFY_SOCKET=" + sock}})
	defer p.Kill()
	conn.SetReadDeadline(start.Add(30 * time.Second))
	buf := make([]byte, 4096)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			b.Fatalf("no READY=1 from edgepub: %v\n%s", err, p.Log())
		}
		if slices.Contains(strings.Split(string(buf[:n]), "\n"), "READY=1") {
			return time.Since(start)
		}
	}
}

// prepareAcked leaves ackedBytes of segment files whose every record is
// acknowledged. The daemon's Run deletes such segments on its next tick,
// and Close does not, so this is the outbox of a daemon stopped by
// SIGKILL, OOM or a power cut after the broker acknowledged a backlog and
// before Run's tick.
func prepareAcked(b *testing.B, dir string) {
	ob, err := outbox.Open(dir, nil)
	if err != nil {
		b.Fatal(err)
	}
	at := time.Now().Add(-time.Hour)
	for i := 0; ob.Stats().Bytes < ackedBytes; i++ {
		seq := appendReading(b, ob, at, i)
		ob.Ack(seq)
	}
	if st := ob.Stats(); st.Backlog != 0 || st.Dropped != 0 || st.DiskErr != nil {
		b.Fatalf("outbox after acked prefill: %+v", st)
	}
	if err := ob.Close(); err != nil {
		b.Fatal(err)
	}
}

// prepareUnacked leaves 100,000 readings for the broker, as bench/drain.
func prepareUnacked(b *testing.B, dir string) {
	ob, err := outbox.Open(dir, nil)
	if err != nil {
		b.Fatal(err)
	}
	at := time.Now().Add(-time.Hour)
	for i := range unacked {
		appendReading(b, ob, at, i)
	}
	if st := ob.Stats(); st.Backlog != unacked || st.DiskErr != nil {
		b.Fatalf("outbox after prefill: %+v", st)
	}
	if err := ob.Close(); err != nil {
		b.Fatal(err)
	}
}

// appendReading appends reading i as the daemon would: message.Encode for
// the payload, message.Frame with the topic.
func appendReading(b *testing.B, ob *outbox.Outbox, at time.Time, i int) uint64 {
	r := sensors.Reading{Sensor: "backlog", Time: at.Add(time.Duration(i) * 36 * time.Millisecond), Values: sensors.Values{
		"temperature_c": 21.53 + float64(i%100)/100, "humidity_pct": 40.1, "pressure_hpa": 1013.2,
	}}
	seq, err := ob.Append(r.Time, func(seq uint64) ([]byte, error) {
		p, err := message.Encode(device, seq, r)
		return message.Frame(topic, p, nil), err
	})
	if err != nil {
		b.Fatal(err)
	}
	return seq
}

// segmentBytes sums the sizes of the segment files in dir.
func segmentBytes(b *testing.B, dir string) int64 {
	matches, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil {
		b.Fatal(err)
	}
	var n int64
	for _, m := range matches {
		if fi, err := os.Stat(m); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// describe says what the template's outbox holds on disk.
func describe(b *testing.B, dir string) string {
	matches, _ := filepath.Glob(filepath.Join(dir, "outbox", "*.seg"))
	return fmt.Sprintf("%d segment files, %.1f MiB", len(matches), float64(segmentBytes(b, filepath.Join(dir, "outbox")))/(1<<20))
}

func loadavg(b *testing.B) string {
	l, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		b.Fatal(err)
	}
	return "load average " + strings.Join(strings.Fields(string(l))[:3], " ")
}

// copyDir copies the regular files of src and its subdirectories to dst.
func copyDir(b *testing.B, src, dst string) {
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o700)
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		b.Fatal(err)
	}
}
