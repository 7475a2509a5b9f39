// Command publish sends QoS 1 messages to a local broker as one process and
// reports what that cost it, so that edgepub's publisher and a bare paho
// loop can be compared on equal terms. BenchmarkDelivery in ../../publisher
// starts the broker and the counting subscriber and runs this program once
// per variant:
//
//   - paho: a bare paho client with a sliding window of -window publishes
//     in flight, waiting on the oldest token;
//   - edgepub-drain: publisher.Run over a real outbox (outbox in
//     -dir) that holds all -n readings before the publisher starts;
//   - edgepub-live: publisher.Run while another goroutine appends the -n
//     readings to the outbox as fast as it can.
//
// It prints one JSON line: the time from connected to the last PUBACK, the
// CPU time (user+system) of this process over that span, and its peak RSS.
// It dials only the -broker given, which must be a loopback address.
//
//	publish -variant edgepub-drain -broker ssl://127.0.0.1:8883 -certs DIR -topic Kai/bench/x -n 100000 -window 64
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgepub/edgepub/certs"
	"github.com/edgepub/edgepub/message"
	"github.com/edgepub/edgepub/outbox"
	"github.com/edgepub/edgepub/publisher"
	"github.com/edgepub/edgepub/sensors"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "publish:", err)
		os.Exit(1)
	}
}

type config struct {
	variant, broker, certDir, topic, dir, cpuProfile string
	n, window                                        int
	timeout                                          time.Duration
}

// Result is what one run reports.
type Result struct {
	Variant string `json:"variant"`
	N       int    `json:"n"`
	Window  int    `json:"window"`
	// Seconds is the time from connected (or, for edgepub, from the start
	// of publisher.Run) to the last PUBACK.
	Seconds float64 `json:"seconds"`
	// CPUSeconds is user+system time of the process over Seconds.
	CPUSeconds float64 `json:"cpu_seconds"`
	// SystemSeconds is the system (kernel) part of CPUSeconds.
	SystemSeconds float64 `json:"system_seconds"`
	// PrefillSeconds is how long appending the readings took before an
	// edgepub-drain run started.
	PrefillSeconds float64 `json:"prefill_seconds,omitempty"`
	MaxRSSKiB      int64   `json:"max_rss_kib"`
	// ReadCalls and WriteCalls count the process's read and write
	// syscalls (syscr, syscw of /proc/self/io) over Seconds.
	ReadCalls  int64 `json:"read_calls"`
	WriteCalls int64 `json:"write_calls"`
	// Allocs counts heap allocations over Seconds.
	Allocs uint64 `json:"allocs"`
}

func run(args []string) error {
	var c config
	fs := flag.NewFlagSet("publish", flag.ContinueOnError)
	fs.StringVar(&c.variant, "variant", "edgepub-drain", "paho, edgepub-drain or edgepub-live")
	fs.StringVar(&c.broker, "broker", "", "broker URL, ssl://127.0.0.1:PORT (loopback only)")
	fs.StringVar(&c.certDir, "certs", "", "device cert dir: ca.crt and one <name>.crt/<name>.key; the CN is the client id")
	fs.StringVar(&c.topic, "topic", "", "topic to publish to (under the device's CN for the seed's ACL)")
	fs.StringVar(&c.dir, "dir", "", "parent dir for the outbox (default: a temp dir, removed afterwards)")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the publishing span here")
	fs.IntVar(&c.n, "n", 100_000, "messages to send")
	fs.IntVar(&c.window, "window", 64, "QoS 1 publishes in flight")
	fs.DurationVar(&c.timeout, "timeout", 2*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := checkLoopback(c.broker); err != nil {
		return err
	}
	if c.topic == "" || c.certDir == "" || c.n < 1 || c.window < 1 {
		return errors.New("-topic, -certs, -n ≥ 1 and -window ≥ 1 are required")
	}
	bundle, err := certs.Load(c.certDir, certs.Names{}, time.Now())
	if err != nil {
		return err
	}
	src := certs.NewSource(c.certDir, certs.Names{}, bundle, nil)
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()

	var res Result
	switch c.variant {
	case "paho":
		res, err = pahoLoop(ctx, c, src)
	case "edgepub-drain", "edgepub-live":
		res, err = edgepub(ctx, c, src)
	default:
		return fmt.Errorf("unknown -variant %q: use paho, edgepub-drain or edgepub-live", c.variant)
	}
	if err != nil {
		return err
	}
	res.Variant, res.N, res.Window = c.variant, c.n, c.window
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	res.MaxRSSKiB = ru.Maxrss
	return json.NewEncoder(os.Stdout).Encode(res)
}

// checkLoopback refuses any broker that is not on this machine.
func checkLoopback(broker string) error {
	u, err := url.Parse(broker)
	if err != nil || u.Hostname() == "" {
		return fmt.Errorf("-broker %q: want ssl://127.0.0.1:PORT", broker)
	}
	if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-broker %q: only loopback addresses are allowed", broker)
	}
	return nil
}

func tlsConfig(src *certs.Source, broker string) *tls.Config {
	u, _ := url.Parse(broker)
	return certs.ClientTLSConfig(src, certs.TLSOpts{Host: u.Hostname()})
}

// reading is one simulated BME280 reading, encoded to about 140 bytes.
func reading(at time.Time, i int) sensors.Reading {
	return sensors.Reading{Sensor: "environment", Time: at, Values: sensors.Values{
		"temperature_c": 21.53 + float64(i%100)/100, "humidity_pct": 40.1, "pressure_hpa": 1013.2,
	}}
}

// span measures wall and CPU time, and profiles, from begin to end.
type span struct {
	start         time.Time
	cpu, sys      time.Duration
	reads, writes int64
	allocs        uint64
	profile       *os.File
}

func begin(profilePath string) (*span, error) {
	s := &span{start: time.Now()}
	s.cpu, s.sys = cpuTime()
	s.reads, s.writes = syscalls()
	s.allocs = allocs()
	if profilePath != "" {
		f, err := os.Create(profilePath)
		if err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, err
		}
		s.profile = f
	}
	return s, nil
}

func (s *span) end(r *Result) {
	r.Seconds = time.Since(s.start).Seconds()
	cpu, sys := cpuTime()
	r.CPUSeconds, r.SystemSeconds = (cpu - s.cpu).Seconds(), (sys - s.sys).Seconds()
	reads, writes := syscalls()
	r.ReadCalls, r.WriteCalls = reads-s.reads, writes-s.writes
	r.Allocs = allocs() - s.allocs
	if s.profile != nil {
		pprof.StopCPUProfile()
		s.profile.Close()
	}
}

// cpuTime returns the user+system and the system CPU time of this process.
func cpuTime() (total, system time.Duration) {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), time.Duration(ru.Stime.Nano())
}

func allocs() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.Mallocs
}

// syscalls returns how many read and write syscalls this process made
// (read, pread, recvmsg…; write, pwrite, sendmsg…), or zeros where
// /proc/self/io is missing.
func syscalls() (reads, writes int64) {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0, 0
	}
	for line := range strings.Lines(string(b)) {
		name, value, _ := strings.Cut(strings.TrimSpace(line), ": ")
		n, _ := strconv.ParseInt(value, 10, 64)
		switch name {
		case "syscr":
			reads = n
		case "syscw":
			writes = n
		}
	}
	return reads, writes
}

// pahoLoop is the baseline: what paho alone does with the same window.
func pahoLoop(ctx context.Context, c config, src *certs.Source) (Result, error) {
	msgs := make([][]byte, c.n)
	at := time.Now()
	for i := range msgs {
		p, err := message.Encode(src.Current().Identity, uint64(i+1), reading(at.Add(time.Duration(i)*time.Millisecond), i))
		if err != nil {
			return Result{}, err
		}
		msgs[i] = p
	}
	o := mqtt.NewClientOptions().AddBroker(c.broker).SetClientID(src.Current().Identity).
		SetTLSConfig(tlsConfig(src, c.broker)).SetCleanSession(true).SetAutoReconnect(false).
		SetKeepAlive(15 * time.Second).SetConnectTimeout(10 * time.Second)
	client := mqtt.NewClient(o)
	if err := wait(ctx, client.Connect()); err != nil {
		return Result{}, fmt.Errorf("connect: %w", err)
	}
	defer client.Disconnect(100)
	var res Result
	s, err := begin(c.cpuProfile)
	if err != nil {
		return res, err
	}
	inflight := make([]mqtt.Token, 0, c.window)
	for _, m := range msgs {
		if len(inflight) == c.window {
			if err := wait(ctx, inflight[0]); err != nil {
				return res, fmt.Errorf("publish: %w", err)
			}
			inflight = inflight[1:]
		}
		inflight = append(inflight, client.Publish(c.topic, 1, false, m))
	}
	for _, t := range inflight {
		if err := wait(ctx, t); err != nil {
			return res, fmt.Errorf("publish: %w", err)
		}
	}
	s.end(&res)
	return res, nil
}

func wait(ctx context.Context, t mqtt.Token) error {
	select {
	case <-t.Done():
		return t.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// edgepub runs the product's publisher over a real outbox, as the daemon
// wires them (outbox.Run alongside), and waits until the broker has acked
// every reading.
func edgepub(ctx context.Context, c config, src *certs.Source) (Result, error) {
	parent := c.dir
	if parent == "" {
		var err error
		if parent, err = os.MkdirTemp("", "bench-publish-"); err != nil {
			return Result{}, err
		}
		defer os.RemoveAll(parent)
	}
	dir, err := os.MkdirTemp(parent, "outbox-")
	if err != nil {
		return Result{}, err
	}
	ob, err := outbox.Open(dir, nil)
	if err != nil {
		return Result{}, err
	}
	defer ob.Close()
	if err := ob.Stats().DiskErr; err != nil {
		return Result{}, err
	}
	device := src.Current().Identity
	at := time.Now()
	appendAll := func() error {
		for i := range c.n {
			r := reading(at.Add(time.Duration(i)*time.Millisecond), i)
			if _, err := ob.Append(r.Time, func(seq uint64) ([]byte, error) {
				p, err := message.Encode(device, seq, r)
				return message.Frame(c.topic, p, nil), err
			}); err != nil {
				return err
			}
		}
		return nil
	}
	var res Result
	live := c.variant == "edgepub-live"
	if !live {
		start := time.Now()
		if err := appendAll(); err != nil {
			return res, err
		}
		res.PrefillSeconds = time.Since(start).Seconds()
	}

	connected := make(chan struct{})
	var connectedOnce sync.Once
	p := publisher.New(ob, publisher.Opts{
		URLs:      []string{c.broker},
		ClientID:  device,
		TLSConfig: func(string) *tls.Config { return tlsConfig(src, c.broker) },
		KeepAlive: 30 * time.Second, ConnectTimeout: 10 * time.Second,
		BackoffMin: 100 * time.Millisecond, BackoffMax: time.Second,
		InFlight:  c.window,
		OnConnect: func() { connectedOnce.Do(func() { close(connected) }) },
	})
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { ob.Run(runCtx) })
	wg.Go(func() { p.Run(runCtx) })
	// The span starts once connected, as the paho loop's does.
	select {
	case <-connected:
	case <-ctx.Done():
		return res, fmt.Errorf("not connected: %w", ctx.Err())
	}
	s, err := begin(c.cpuProfile)
	if err != nil {
		return res, err
	}
	appendErr := make(chan error, 1)
	if live {
		wg.Go(func() { appendErr <- appendAll() })
	}
	// Polled rarely: waking more often would cost CPU charged to edgepub.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for p.Status().Delivered < uint64(c.n) {
		select {
		case err := <-appendErr:
			if err != nil {
				return res, err
			}
		case <-tick.C:
		case <-ctx.Done():
			return res, fmt.Errorf("%d of %d delivered: %w", p.Status().Delivered, c.n, ctx.Err())
		}
	}
	s.end(&res)
	stop()
	return res, nil
}
