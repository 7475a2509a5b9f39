package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A simulator process holds 4 files per device (TLS socket, outbox
// segment, lock and lease). Where the hard open-files limit cannot be
// raised (no CAP_SYS_RESOURCE, e.g. in a container: 20,000 here), -procs
// splits the fleet over several processes: this one runs the broker, the
// monitor and the first share of the devices; each worker (this program
// with -worker) runs a further share against the same broker and reports
// its counts on stdout.

// workerCount is one worker's latest status line.
type workerCount struct{ ready, connected, drained, backlog int }

// worker is one child simulator process, seen from the parent.
type worker struct {
	first, n int
	cmd      *exec.Cmd
	in       io.WriteCloser

	mu      sync.Mutex
	count   workerCount
	err     error
	replies chan string // answers to "mem" and "stop"
	done    chan struct{}
}

// startWorker runs devices first..first+n-1 in a child process.
func startWorker(o options, first, n int, dir, brokerURL string) (*worker, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{"-worker", "-first", strconv.Itoa(first), "-n", strconv.Itoa(n), "-dir", dir, "-broker", brokerURL,
		"-interval", o.device.Interval.String(), "-start-jitter", o.device.StartJitter.String(),
		"-backoff-min", o.device.BackoffMin.String(), "-backoff-max", o.device.BackoffMax.String(),
		"-keepalive", o.device.KeepAlive.String(), "-health-interval", o.device.HealthInterval.String(),
		"-cert-poll", o.device.CertPoll.String(), "-poll", o.pollInterval.String(), "-duration", o.duration.String()}
	if o.verbose {
		args = append(args, "-v")
	}
	w := &worker{first: first, n: n, replies: make(chan string, 4), done: make(chan struct{})}
	w.cmd = exec.Command(exe, args...)
	w.cmd.Stderr = os.Stderr
	if w.in, err = w.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	out, err := w.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := w.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start worker for devices %d..%d: %w", first, first+n-1, err)
	}
	go func() {
		defer close(w.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			kind, rest, _ := strings.Cut(sc.Text(), " ")
			switch kind {
			case "status":
				var c workerCount
				fmt.Sscan(rest, &c.ready, &c.connected, &c.drained, &c.backlog)
				w.mu.Lock()
				w.count = c
				w.mu.Unlock()
			case "error":
				w.mu.Lock()
				w.err = fmt.Errorf("worker for devices %d..%d: %s", first, first+n-1, rest)
				w.mu.Unlock()
			default:
				w.replies <- sc.Text()
			}
		}
		w.cmd.Wait()
	}()
	return w, nil
}

func (w *worker) status() (workerCount, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.count, w.err
}

// ask sends a request line and returns the reply line.
func (w *worker) ask(request string, timeout time.Duration) (string, error) {
	if _, err := fmt.Fprintln(w.in, request); err != nil {
		return "", fmt.Errorf("worker %d..%d: %w", w.first, w.first+w.n-1, err)
	}
	select {
	case r := <-w.replies:
		return r, nil
	case <-w.done:
		return "", fmt.Errorf("worker %d..%d exited", w.first, w.first+w.n-1)
	case <-time.After(timeout):
		return "", fmt.Errorf("worker %d..%d did not answer %q within %v", w.first, w.first+w.n-1, request, timeout)
	}
}

func (w *worker) pid() int { return w.cmd.Process.Pid }

// kill ends the worker at once; for clean-up.
func (w *worker) kill() {
	w.cmd.Process.Kill()
	<-w.done
}

// runWorker is the child's side: run the devices, print "status ready
// connected drained backlog" every -poll, answer "mem" with the memory
// line and "stop" with "left <backlog>" after stopping the devices.
func runWorker(ctx context.Context, o options, first int, brokerURL string) error {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(25)
	}
	if _, err := raiseFileLimit(uint64(4*o.n + 256)); err != nil {
		return err
	}
	ids := make([]identity, o.n)
	for i := range ids {
		ids[i] = deviceIdentity(o.dir, first+i)
	}
	o.device.BrokerURL = brokerURL
	var outMu sync.Mutex
	reply := func(format string, a ...any) {
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Printf(format+"\n", a...)
	}
	runtime.GC()
	baseRSS := rssOf("/proc/self/status")
	logs := newLogCounter(o.verbose)
	fl, err := startFleet(ids, o.device, logs)
	if err != nil {
		return err
	}
	defer fl.stop(10 * time.Second)

	requests := make(chan string)
	go func() {
		defer close(requests)
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			requests <- sc.Text()
		}
	}()
	tick := time.NewTicker(o.pollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			ready, connected, drained, backlog, err := fl.count()
			if err != nil {
				reply("error %v", err)
				continue
			}
			reply("status %d %d %d %d", ready, connected, drained, backlog)
		case req, ok := <-requests:
			switch {
			case !ok:
				return nil // the parent is gone
			case req == "mem":
				runtime.GC()
				rss := rssOf("/proc/self/status")
				reply("mem %d %d %d %s; %d open files", rss, baseRSS, runtime.NumGoroutine(), memBreakdown(o.n), openFiles())
			case req == "stop":
				_, _, _, left, _ := fl.count()
				if err := fl.stop(30 * time.Second); err != nil {
					return err
				}
				for _, line := range logs.summary() {
					fmt.Fprintf(os.Stderr, "  worker %d..%d: %s\n", first, first+o.n-1, line)
				}
				reply("left %d", left)
				return nil
			}
		}
	}
}
