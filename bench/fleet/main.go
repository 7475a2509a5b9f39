// Command fleet simulates a fleet of edgepub devices against one real
// Mosquitto and measures what fleet operation costs: how long N devices take
// to connect, how a broker restart is absorbed (time until all are back and
// the peak reconnect rate the broker sees), the memory one device takes,
// and whether any reading is lost through the restart.
//
// Every device is the real daemon (internal/daemon.Run) in this process,
// with its own certificate (issued with the project's certs/pki.NewCA and
// IssueClient), its own state directory and outbox, and a simulated BME280.
// The broker is Debian's mosquitto, started here with the seed's TLS
// listener on 127.0.0.1 (server certificate from IssueServer), the seed's
// ACL and a read-all monitor; a mosquitto_sub with a persistent QoS 1
// session counts every device's seqs.
//
//	go run ./bench/fleet -n 500
//	go run ./bench/fleet -n 50 -down 0s -v
//	go run ./bench/fleet -n 2000 -key rsa -key-pool 16
//
// Each device holds 4 open files; where the hard limit cannot be raised,
// -procs spreads the devices over worker processes (worker.go):
//
//	go run ./bench/fleet -n 10000 -procs 3 -keepalive 120s -start-jitter 60s -backoff-min 30s
//
// With -handshakes it measures only the broker's CPU per connect, ECDSA
// P-256 against RSA 2048 (handshakes.go):
//
//	go run ./bench/fleet -handshakes 3 -n 1000
//
// With -console it measures `edgepub fleet` instead (console.go): the
// console follows -n synthetic devices, e.g.
//
//	go run ./bench/fleet -console -n 10000 -interval 10s
//
// Everything runs on 127.0.0.1 and ends within -duration.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
		os.Exit(1)
	}
}

type options struct {
	n            int
	duration     time.Duration
	device       deviceOpts
	settle       time.Duration
	down         time.Duration
	settleAfter  time.Duration
	dir          string
	keep         bool
	profile      string
	verbose      bool
	pollInterval time.Duration
	bucket       time.Duration
	consoleMode  bool
	console      consoleOpts
	keys         keyOpts
	procs        int
}

func run(args []string) error {
	var o options
	fs := flag.NewFlagSet("fleet", flag.ContinueOnError)
	fs.IntVar(&o.n, "n", 500, "number of simulated devices")
	fs.DurationVar(&o.duration, "duration", 5*time.Minute, "upper bound for the whole run")
	fs.DurationVar(&o.device.Interval, "interval", 5*time.Second, "time between readings of each device")
	fs.DurationVar(&o.device.StartJitter, "start-jitter", 5*time.Second, "broker.start_jitter of each device")
	fs.DurationVar(&o.device.BackoffMin, "backoff-min", time.Second, "broker.backoff_min of each device")
	fs.DurationVar(&o.device.BackoffMax, "backoff-max", 2*time.Minute, "broker.backoff_max of each device")
	fs.DurationVar(&o.device.KeepAlive, "keepalive", 30*time.Second, "broker.keepalive of each device")
	fs.DurationVar(&o.device.HealthInterval, "health-interval", time.Minute, "presence.health_interval of each device")
	fs.DurationVar(&o.settle, "settle", 15*time.Second, "time the connected fleet reads before the broker restart")
	fs.DurationVar(&o.down, "down", 5*time.Second, "time the broker stays down during the restart")
	fs.DurationVar(&o.settleAfter, "settle-after", 10*time.Second, "time the fleet reads after all are back")
	fs.DurationVar(&o.pollInterval, "poll", 50*time.Millisecond, "how often the devices' status is polled")
	fs.DurationVar(&o.bucket, "bucket", 250*time.Millisecond, "bucket width of the devices' reconnect histogram")
	fs.StringVar(&o.dir, "dir", "", "work directory (default: a new one in $TMPDIR)")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory")
	fs.StringVar(&o.profile, "profile", "", "write heap and goroutine profiles of the connected fleet to `prefix`.heap and prefix.goroutine")
	fs.BoolVar(&o.verbose, "v", false, "print every device warning")
	keyType := fs.String("key", "ec", "key type of the CA, the broker and the devices: ec (ECDSA P-256) or rsa (RSA 2048, as the tutorial)")
	fs.IntVar(&o.keys.Pool, "key-pool", 0, "make only this many device keys and let devices share them (0: one key per device)")
	fs.DurationVar(&o.device.CertPoll, "cert-poll", time.Minute, "check each device's certificate files this often instead of an inotify watch each (0: watch, as the daemon does)")
	handshakeRounds := fs.Int("handshakes", 0, "measure only the broker's CPU per connect, EC vs RSA, in this many interleaved rounds of -n connects (-conns at once)")
	fs.IntVar(&o.procs, "procs", 1, "simulator processes the devices are split over (each holds 4 open files per device; see -worker)")
	workerMode := fs.Bool("worker", false, "internal: run devices -first.. against -broker in -dir for a parent fleet process")
	first := fs.Int("first", 0, "with -worker: index of the first device")
	brokerURL := fs.String("broker", "", "with -worker: the parent's broker URL")
	fs.BoolVar(&o.consoleMode, "console", false, "measure `edgepub fleet` following -n synthetic devices instead")
	fs.IntVar(&o.console.conns, "conns", 4, "with -console: MQTT connections the synthetic devices' messages share; with -handshakes: connects at once")
	fs.DurationVar(&o.console.warmup, "warmup", time.Minute, "with -console: time before the measurement")
	fs.DurationVar(&o.console.measure, "measure", 2*time.Minute, "with -console: measured time")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.n < 1 {
		return errors.New("-n must be at least 1")
	}
	var err error
	if o.keys.Type, err = parseKeyType(*keyType); err != nil {
		return err
	}
	if o.profile != "" {
		// Sample the heap finely enough to see a device's few KiB.
		runtime.MemProfileRate = 1024
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.duration)
	defer cancel()
	if *workerMode {
		if o.dir == "" || *brokerURL == "" {
			return errors.New("-worker needs -dir and -broker")
		}
		return runWorker(ctx, o, *first, *brokerURL)
	}
	if *handshakeRounds > 0 {
		return runHandshakes(ctx, o, *handshakeRounds)
	}
	if o.procs < 1 || o.procs > o.n {
		return errors.New("-procs must be between 1 and -n")
	}
	if o.consoleMode {
		if o.console.conns < 1 {
			return errors.New("-conns must be at least 1")
		}
		return runConsole(ctx, o)
	}
	return runFleet(ctx, o)
}

// say prints one line of the report.
func say(format string, a ...any) { fmt.Printf(format+"\n", a...) }

func runFleet(ctx context.Context, o options) error {
	started := time.Now()
	gogc := os.Getenv("GOGC")
	if gogc == "" {
		// As cmd/edgepub: every simulated device is a daemon, which runs
		// with GOGC=25 unless told otherwise.
		debug.SetGCPercent(25)
		gogc = "25"
	}
	// Per device: its TLS socket, outbox segment and directory, state
	// files while written; Mosquitto inherits the limit and needs one
	// socket per device.
	perProc := (o.n + o.procs - 1) / o.procs
	local := o.n - (o.procs-1)*perProc
	nofile, err := raiseFileLimit(uint64(max(4*local, o.n) + 1024))
	if err != nil {
		return err
	}
	bin, err := lookMosquitto()
	if err != nil {
		return err
	}
	dir := o.dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "edgepub-fleet-"); err != nil {
			return err
		}
	}
	if !o.keep {
		defer os.RemoveAll(dir)
	}
	say("fleet: %d devices, reading every %v, start_jitter %v, backoff %v..%v, keepalive %v, broker down %v, certificate poll %v; %d CPUs, GOMAXPROCS %d, GOGC %s, open files limit %d, dir %s; load average %s",
		o.n, o.device.Interval, o.device.StartJitter, o.device.BackoffMin, o.device.BackoffMax, o.device.KeepAlive, o.down, o.device.CertPoll,
		runtime.NumCPU(), runtime.GOMAXPROCS(0), gogc, nofile, dir, loadAverage())

	t := time.Now()
	pki, ids, err := makePKI(dir, o.n, o.keys, time.Now())
	if err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	keys := "one per device"
	if o.keys.Pool > 0 {
		keys = fmt.Sprintf("%d shared by the devices", o.keys.Pool)
	}
	say("pki: CA, server and %d client certificates (%s, keys %s) issued in %v", o.n, o.keys.Type, keys, time.Since(t).Round(time.Millisecond))

	port, err := freePort()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir+"/broker", 0o700); err != nil {
		return err
	}
	b, err := newBroker(bin, dir+"/broker", port, pki, "")
	if err != nil {
		return err
	}
	if err := b.start(ctx); err != nil {
		return err
	}
	defer b.kill()
	mon, err := startMonitor(ctx, b, pki)
	if err != nil {
		return err
	}
	defer mon.stop()
	o.device.BrokerURL = b.url()

	runtime.GC()
	baseRSS, baseHeap, baseGoroutines := rssOf("/proc/self/status"), heapInUse(), runtime.NumGoroutine()

	// Phase 1: the fleet powers on together.
	logs := newLogCounter(o.verbose)
	connectOffset := b.logSize()
	drops := listenDrops()
	brokerCPU, selfCPU := b.cpu(), cpuOf("/proc/self/stat") // no workers yet
	launched := time.Now()
	fl, err := startFleet(ids[:local], o.device, logs)
	if err != nil {
		return err
	}
	defer fl.stop(10 * time.Second)
	for first := local; first < o.n; first += perProc {
		w, err := startWorker(o, first, min(perProc, o.n-first), dir, b.url())
		if err != nil {
			return err
		}
		defer w.kill()
		fl.workers = append(fl.workers, w)
	}
	simCPU := func() time.Duration {
		cpu := cpuOf("/proc/self/stat")
		for _, w := range fl.workers {
			cpu += cpuOf(fmt.Sprintf("/proc/%d/stat", w.pid()))
		}
		return cpu
	}
	allReady, err := fl.waitFor(ctx, "all devices running", o.pollInterval, func(ready, _, _ int) bool { return ready == o.n })
	if err != nil {
		return err
	}
	if _, err := fl.waitFor(ctx, "all devices connected", o.pollInterval, func(_, connected, _ int) bool { return connected == o.n }); err != nil {
		return err
	}
	allConnected := time.Since(launched)
	stormBroker, stormSelf := b.cpu()-brokerCPU, simCPU()-selfCPU
	st, err := b.connects(connectOffset, "dev-")
	if err != nil {
		return err
	}
	say("start: all %d running after %v, all connected %v after launch (start_jitter %v); broker log: %d connects of %d devices, %s..%s, peak %d/s at %s, %d TLS/socket errors logged (the readiness probe's bare TCP connect can be one); %d connection attempts dropped at a full listen queue",
		o.n, allReady.Round(time.Millisecond), allConnected.Round(time.Millisecond), o.device.StartJitter,
		st.Connects, st.Devices, st.First.Format("15:04:05"), st.Last.Format("15:04:05"), st.Peak, st.PeakAt, st.Errors, listenDrops()-drops)
	fmt.Print("  connections per second (start):\n" + st.histogram(launched))

	settleBroker, settleSim, settleAt := b.cpu(), simCPU(), time.Now()
	if err := sleepCtx(ctx, o.settle); err != nil {
		return err
	}
	steady := float64(b.cpu()-settleBroker) / float64(time.Since(settleAt))
	simSteady := float64(simCPU()-settleSim) / float64(time.Since(settleAt))
	say("steady CPU over the settle: simulator %.0f%% of a core = %.3f%% per device (%d readings/s in all); broker %.1f%%",
		100*simSteady, 100*simSteady/float64(o.n), int(float64(o.n)/o.device.Interval.Seconds()), 100*steady)
	say("broker CPU: %v for the %d connects in %v (%.0f%% of a core), of which the readings at the steady rate measured next (%.1f%% of a core over the settle) account for %v: %v per connect; the simulator's own CPU meanwhile (%d processes) %v, %v per device",
		stormBroker, o.n, allConnected.Round(time.Millisecond), 100*float64(stormBroker)/float64(allConnected), 100*steady,
		time.Duration(steady*float64(allConnected)).Round(time.Millisecond),
		perConnect(stormBroker-time.Duration(steady*float64(allConnected)), o.n), o.procs, stormSelf, stormSelf/time.Duration(o.n))
	runtime.GC()
	rss, heap, goroutines := rssOf("/proc/self/status"), heapInUse(), runtime.NumGoroutine()
	if err := writeProfiles(o.profile); err != nil {
		return err
	}
	say("memory (all connected, after %v of readings): process RSS %s for %d devices = %s per device (%s over the %s before the fleet); Go heap in use %s, %s per device over the start; %d goroutines = %.1f per device; mosquitto RSS %s = %s per connection",
		o.settle, mib(rss), local, kib((rss)/int64(local)), kib((rss-baseRSS)/int64(local)), mib(baseRSS),
		mib(heap), kib((heap-baseHeap)/int64(local)), goroutines, float64(goroutines-baseGoroutines)/float64(local),
		mib(b.rssBytes()), kib(b.rssBytes()/int64(o.n)))
	say("  %s; %d open files", memBreakdown(local), openFiles())
	totalRSS := rss
	for _, w := range fl.workers {
		line, err := w.ask("mem", time.Minute)
		if err != nil {
			return err
		}
		var wRSS, wBase int64
		var wGoroutines int
		fmt.Sscan(strings.TrimPrefix(line, "mem "), &wRSS, &wBase, &wGoroutines)
		_, breakdown, _ := strings.Cut(line, "Go runtime")
		say("  worker with devices %d..%d: process RSS %s = %s per device (%s over the %s before its fleet); %d goroutines; Go runtime%s",
			w.first, w.first+w.n-1, mib(wRSS), kib(wRSS/int64(w.n)), kib((wRSS-wBase)/int64(w.n)), mib(wBase), wGoroutines, breakdown)
		totalRSS += wRSS
	}
	if len(fl.workers) > 0 {
		say("  all %d simulator processes: RSS %s = %s per device", o.procs, mib(totalRSS), kib(totalRSS/int64(o.n)))
	}
	before, _ := mon.received()
	say("readings at the monitor before the restart: %d", before)

	// Phase 2: the broker restarts (clean stop, persistence kept).
	restartOffset := b.logSize()
	drops = listenDrops()
	stopAt := time.Now()
	if err := b.stop(); err != nil {
		return err
	}
	stopTook := time.Since(stopAt)
	allGone, err := fl.waitFor(ctx, "all devices noticing the stop", 10*time.Millisecond, func(_, connected, _ int) bool { return connected == 0 })
	if err != nil {
		return err
	}
	if err := sleepCtx(ctx, o.down-time.Since(stopAt)); err != nil {
		return err
	}
	if err := b.start(ctx); err != nil {
		return err
	}
	upAt := time.Now()
	back, workersBack, err := fl.waitAllConnected(ctx, upAt, o.pollInterval)
	if err != nil {
		return err
	}
	restartBroker := b.cpu() // the process is new: all of its CPU so far
	allBack := max(slices.Max(back), workersBack)
	st, err = b.connects(restartOffset, "dev-")
	if err != nil {
		return err
	}
	say("restart: broker stop took %v, all devices saw it within %v; down %v; all %d back %v after the broker listened again (%v after the stop); broker log: %d connects of %d devices, peak %d/s at %s, %d TLS/socket errors logged (the readiness probe's bare TCP connect can be one); %d connection attempts dropped at a full listen queue",
		stopTook.Round(time.Millisecond), (stopTook + allGone).Round(time.Millisecond), upAt.Sub(stopAt).Round(time.Millisecond),
		o.n, allBack.Round(time.Millisecond), upAt.Add(allBack).Sub(stopAt).Round(time.Millisecond), st.Connects, st.Devices, st.Peak, st.PeakAt, st.Errors, listenDrops()-drops)
	fmt.Print("  connections per second (restart, +0 = the stop):\n" + st.histogram(stopAt))
	fmt.Printf("  this process's %d devices first seen connected again, per %v after the broker listened (polled every %v):\n%s", local, o.bucket, o.pollInterval, spread(back, o.bucket))
	say("broker CPU from its restart until all were back: %v (%v per connect, the backlog's delivery included)", restartBroker, perConnect(restartBroker, o.n))

	if err := sleepCtx(ctx, o.settleAfter); err != nil {
		return err
	}

	// Phase 3: drain, stop, and count.
	drained, err := fl.waitFor(ctx, "every backlog delivered", o.pollInterval, func(_, _, drained int) bool { return drained == o.n })
	if err != nil {
		return err
	}
	_, _, _, left, _ := fl.count()
	if err := fl.stop(30 * time.Second); err != nil {
		return err
	}
	if err := mon.waitQuiet(ctx, 2*time.Second); err != nil {
		return err
	}
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = id.Name
	}
	tl := mon.tally(names)
	say("delivery: all backlogs empty %v after the settle; %d readings left in outboxes at the stop; monitor: %d readings (%d unique, %d duplicates) from %d of %d devices; %d seqs MISSING; %d undecodable",
		drained.Round(time.Millisecond), left, tl.Readings, tl.Unique, tl.Duplicates, tl.Devices, o.n, tl.Missing, tl.Undecodable)
	for name, seqs := range tl.MissingBy {
		say("  missing at %s: %v", name, seqs)
	}
	if len(tl.Silent) > 0 {
		say("  silent devices: %s", strings.Join(tl.Silent, " "))
	}
	if s := logs.summary(); len(s) > 0 {
		say("device warnings and errors:\n  %s", strings.Join(s, "\n  "))
	}
	say("total run time %v", time.Since(started).Round(time.Second))
	if tl.Missing > 0 || len(tl.Silent) > 0 {
		return fmt.Errorf("%d readings lost, %d devices silent", tl.Missing, len(tl.Silent))
	}
	return nil
}

// raiseFileLimit lifts the open-files limit to at least want (the hard
// limit too, which root may do): every device holds a TLS socket and
// outbox files, and mosquitto (which inherits the limit) one socket per
// device.
func raiseFileLimit(want uint64) (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	lim.Cur = max(lim.Max, want)
	lim.Max = lim.Cur
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("raise the open files limit to %d: %w; run as root or raise the hard limit (ulimit -Hn %d, LimitNOFILE=)", lim.Cur, err, lim.Cur)
	}
	return lim.Cur, nil
}

func perConnect(cpu time.Duration, n int) time.Duration {
	return (cpu / time.Duration(n)).Round(time.Microsecond)
}

// openFiles counts this process's open file descriptors.
func openFiles() int {
	fds, _ := os.ReadDir("/proc/self/fd")
	return len(fds)
}

func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(data))[:3], " ")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func heapInUse() int64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// spread is a histogram of durations in buckets of width w.
func spread(ds []time.Duration, w time.Duration) string {
	counts := map[int]int{}
	top, peak := 0, 0
	for _, d := range ds {
		i := int(d / w)
		counts[i]++
		top = max(top, i)
		peak = max(peak, counts[i])
	}
	var b strings.Builder
	for i := 0; i <= top; i++ {
		if counts[i] > 0 {
			fmt.Fprintf(&b, "    +%-7v %4d %s\n", time.Duration(i)*w, counts[i], bar(counts[i], peak))
		}
	}
	return b.String()
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
func kib(b int64) string { return fmt.Sprintf("%.0f KiB", float64(b)/(1<<10)) }
