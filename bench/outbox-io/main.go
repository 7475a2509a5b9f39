// Command outbox-io measures what the outbox costs the storage: net bytes
// written per reading (write_bytes - cancelled_write_bytes of /proc/self/io)
// with a healthy broker ("online") and during an outage ("outage"), and the
// memory a large backlog takes ("rss"), and how many acknowledged readings
// a SIGKILL makes the outbox send again ("kill").
//
//	go run ./bench/outbox-io -mode online -duration 60s -rate 10
//	go run ./bench/outbox-io -mode outage -outage-duration 10s -outage-rate 1000
//	go run ./bench/outbox-io -mode rss -backlog 100000
//	go run ./bench/outbox-io -mode kill -kill-rounds 5 -kill-after 3s -kill-rate 200
//
// The dir must be on a disk filesystem (ext4 on an SD card on a Pi): tmpfs
// pages are never written back, so the kernel does not count them.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/edgepub/edgepub/outbox"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "outbox-io:", err)
		os.Exit(1)
	}
}

type config struct {
	mode           string
	dir            string
	keep           bool
	duration       time.Duration
	rate           float64
	ackDelay       time.Duration
	outageDuration time.Duration
	outageRate     float64
	backlog        int
	payloadSize    int
	killRounds     int
	killAfter      time.Duration
	killRate       float64
	window         int
}

func run(args []string) error {
	var c config
	fs := flag.NewFlagSet("outbox-io", flag.ContinueOnError)
	fs.StringVar(&c.mode, "mode", "all", "online, outage, rss, kill or all")
	fs.StringVar(&c.dir, "dir", "", "parent dir for the outbox (default: a temp dir in /var/tmp); must not be tmpfs")
	fs.BoolVar(&c.keep, "keep", false, "keep the outbox dir afterwards")
	fs.DurationVar(&c.duration, "duration", 60*time.Second, "online: how long to append")
	fs.Float64Var(&c.rate, "rate", 10, "online: readings per second")
	fs.DurationVar(&c.ackDelay, "ack-delay", 5*time.Millisecond, "online: time from append to the broker's ack")
	fs.DurationVar(&c.outageDuration, "outage-duration", 10*time.Second, "outage: how long to append without acks")
	fs.Float64Var(&c.outageRate, "outage-rate", 1000, "outage: readings per second")
	fs.IntVar(&c.backlog, "backlog", 100000, "rss: readings in the backlog")
	fs.IntVar(&c.payloadSize, "rss-payload", 200, "rss: payload bytes per reading")
	fs.IntVar(&c.killRounds, "kill-rounds", 5, "kill: how many times to SIGKILL the appending process")
	fs.DurationVar(&c.killAfter, "kill-after", 3*time.Second, "kill: how long each process runs before SIGKILL")
	fs.Float64Var(&c.killRate, "kill-rate", 200, "kill: readings per second")
	fs.IntVar(&c.window, "window", 64, "kill: readings in flight at most, as broker.in_flight")
	rssOpen := fs.String("rss-open", "", "internal: open this outbox and report memory")
	killChildDir := fs.String("kill-child", "", "internal: append and ack in this outbox until killed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *rssOpen != "" {
		return reportOpenRSS(*rssOpen)
	}
	if c.rate <= 0 || c.outageRate <= 0 || c.killRate <= 0 {
		return fmt.Errorf("rates must be positive")
	}
	if c.window <= 0 || c.killRounds <= 0 {
		return fmt.Errorf("window and kill rounds must be positive")
	}
	if *killChildDir != "" {
		return killChild(c, *killChildDir)
	}
	fmt.Printf("kernel: dirty_expire_centisecs=%s dirty_writeback_centisecs=%s\n",
		readTrim("/proc/sys/vm/dirty_expire_centisecs"), readTrim("/proc/sys/vm/dirty_writeback_centisecs"))
	parent := c.dir
	if parent == "" {
		var err error
		if parent, err = os.MkdirTemp("/var/tmp", "outbox-io-"); err != nil {
			return err
		}
		if !c.keep {
			defer os.RemoveAll(parent)
		}
	}
	modes := []string{c.mode}
	if c.mode == "all" {
		modes = []string{"online", "outage", "rss", "kill"}
	}
	for _, m := range modes {
		dir := parent + "/" + m
		os.RemoveAll(dir)
		var err error
		switch m {
		case "online":
			err = online(c, dir)
		case "outage":
			err = outage(c, dir)
		case "rss":
			err = backlogRSS(c, dir)
		case "kill":
			err = killRounds(c, dir)
		default:
			err = fmt.Errorf("unknown mode %q: use online, outage, rss, kill or all", m)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", m, err)
		}
	}
	return nil
}

// payload is a realistic reading of about 150 bytes.
func payload(seq uint64, at time.Time) []byte {
	return fmt.Appendf(nil, `{"seq":%d,"device":"pi-garden-01","sensor":"bme280","time":"%s","values":{"temperature_c":21.37,"humidity_pct":48.2,"pressure_hpa":1013.25}}`,
		seq, at.UTC().Format("2006-01-02T15:04:05.000Z"))
}

// ioCounters are the storage counters the kernel keeps for this process.
type ioCounters struct{ write, cancelled int64 }

func readIO() ioCounters {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		panic(fmt.Sprintf("read /proc/self/io: %v", err))
	}
	var c ioCounters
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ": ")
		n, _ := strconv.ParseInt(v, 10, 64)
		switch k {
		case "write_bytes":
			c.write = n
		case "cancelled_write_bytes":
			c.cancelled = n
		}
	}
	return c
}

func (c ioCounters) net() int64 { return c.write - c.cancelled }

func report(label string, before, after ioCounters, readings int, payloadBytes int64) {
	net := after.net() - before.net()
	per := float64(net) / float64(readings)
	avg := float64(payloadBytes) / float64(readings)
	fmt.Printf("%-28s readings=%d payload=%.0fB write_bytes=%d cancelled=%d net=%d net/reading=%.1fB ratio=%.3fx\n",
		label, readings, avg, after.write-before.write, after.cancelled-before.cancelled, net, per, per/avg)
}

// pace calls f n times at rate per second until ctx ends.
func pace(n int, rate float64, f func(i int)) {
	start := time.Now()
	for i := range n {
		if d := time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))); d > 0 {
			time.Sleep(d)
		}
		f(i)
	}
}

func online(c config, dir string) error {
	fmt.Printf("online: %d readings at %.0f/s for %v, each acked %v after append, dir %s\n",
		int(c.duration.Seconds()*c.rate), c.rate, c.duration, c.ackDelay, dir)
	beforeOpen := readIO()
	o, err := outbox.Open(dir, nil)
	if err != nil {
		return err
	}
	if err := o.Stats().DiskErr; err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { o.Run(ctx) })
	// The publisher: send what is pending, the broker acks after ackDelay.
	wg.Go(func() {
		var after uint64
		for {
			recs, _ := o.Pending(after, 64)
			for _, r := range recs {
				seq := r.Seq
				time.AfterFunc(c.ackDelay, func() { o.Ack(seq) })
				after = seq
			}
			if len(recs) > 0 {
				continue
			}
			select {
			case <-ctx.Done():
				return
			case <-o.Notify():
			}
		}
	})

	start := readIO()
	n := int(c.duration.Seconds() * c.rate)
	var payloadBytes int64
	pace(n, c.rate, func(int) {
		o.Append(time.Now(), func(seq uint64) ([]byte, error) {
			p := payload(seq, time.Now())
			payloadBytes += int64(len(p))
			return p, nil
		})
	})
	end := readIO()
	// Let the last segment be acked, replaced and deleted as it would be
	// if readings kept coming.
	time.Sleep(6 * time.Second)
	settled := readIO()
	st := o.Stats()
	cancel()
	wg.Wait()
	if err := o.Close(); err != nil {
		return err
	}
	closed := readIO()
	report("online (appending)", start, end, n, payloadBytes)
	report("online (settled)", start, settled, n, payloadBytes)
	report("online (with open+close)", beforeOpen, closed, n, payloadBytes)
	fmt.Printf("online: backlog=%d syncs=%d segments=%d dropped=%d\n", st.Backlog, st.Syncs, st.Segments, st.Dropped)
	return nil
}

func outage(c config, dir string) error {
	n := int(c.outageDuration.Seconds() * c.outageRate)
	fmt.Printf("outage: %d readings at %.0f/s for %v, never acked, dir %s\n", n, c.outageRate, c.outageDuration, dir)
	o, err := outbox.Open(dir, nil)
	if err != nil {
		return err
	}
	if err := o.Stats().DiskErr; err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { o.Run(ctx) })
	start := readIO()
	var payloadBytes int64
	pace(n, c.outageRate, func(int) {
		o.Append(time.Now(), func(seq uint64) ([]byte, error) {
			p := payload(seq, time.Now())
			payloadBytes += int64(len(p))
			return p, nil
		})
	})
	time.Sleep(1500 * time.Millisecond) // the last window's fsync
	end := readIO()
	st := o.Stats()
	cancel()
	wg.Wait()
	if err := o.Close(); err != nil {
		return err
	}
	report("outage", start, end, n, payloadBytes)
	fmt.Printf("outage: backlog=%d bytes=%d syncs=%d segments=%d\n", st.Backlog, st.Bytes, st.Syncs, st.Segments)
	return nil
}

// backlogRSS builds a backlog and measures a fresh process that opens it.
func backlogRSS(c config, dir string) error {
	fmt.Printf("rss: %d readings of %d payload bytes, never acked, dir %s\n", c.backlog, c.payloadSize, dir)
	o, err := outbox.Open(dir, &outbox.Opts{MaxBytes: 1 << 30})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { o.Run(ctx) })
	body := strings.Repeat("x", max(0, c.payloadSize-40))
	for range c.backlog {
		if _, err := o.Append(time.Now(), func(seq uint64) ([]byte, error) {
			return fmt.Appendf(nil, `{"seq":%10d,"pad":"%s"}`, seq, body), nil
		}); err != nil {
			return err
		}
	}
	time.Sleep(1500 * time.Millisecond) // one sync window
	printMem("rss (writer, after appends)")
	cancel()
	wg.Wait()
	if err := o.Close(); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self, "-rss-open", dir)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd.Run()
}

func reportOpenRSS(dir string) error {
	printMem("rss (fresh process, start)")
	start := time.Now()
	o, err := outbox.Open(dir, &outbox.Opts{MaxBytes: 1 << 30})
	if err != nil {
		return err
	}
	st := o.Stats()
	fmt.Printf("rss: Open indexed backlog=%d bytes=%d segments=%d in %v\n", st.Backlog, st.Bytes, st.Segments, time.Since(start).Round(time.Millisecond))
	printMem("rss (after Open)")
	// Drain as fast as possible, as a publisher would after a long outage
	// if the broker acked instantly: the worst case for garbage.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { o.Run(ctx) })
	var after uint64
	read := 0
	start = time.Now()
	for {
		recs, err := o.Pending(after, 100)
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			break
		}
		for _, r := range recs {
			o.Ack(r.Seq)
		}
		read += len(recs)
		after = recs[len(recs)-1].Seq
	}
	fmt.Printf("rss: drained %d records in batches of 100 (read+ack) in %v\n", read, time.Since(start).Round(time.Millisecond))
	printMem("rss (after draining all)")
	cancel()
	wg.Wait()
	return o.Close()
}

func printMem(label string) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	status, _ := os.ReadFile("/proc/self/status")
	var rss, hwm string
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			rss = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			hwm = strings.TrimSpace(v)
		}
	}
	fmt.Printf("%-32s VmRSS=%s VmHWM=%s heap_inuse=%.1fMB heap_sys=%.1fMB released=%.1fMB stacks=%.1fMB sys=%.1fMB gcs=%d\n", label, rss, hwm, float64(ms.HeapInuse)/(1<<20), float64(ms.HeapSys)/(1<<20), float64(ms.HeapReleased)/(1<<20), float64(ms.StackSys)/(1<<20), float64(ms.Sys)/(1<<20), ms.NumGC)
}

func readTrim(path string) string {
	b, _ := os.ReadFile(path)
	return strings.TrimSpace(string(b))
}
