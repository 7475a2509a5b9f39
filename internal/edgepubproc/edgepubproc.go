// Package edgepubproc runs the real edgepub binary, built as the packages
// ship it, for the process tests of cmd/edgepub and the daemon-level
// benchmarks (bench/footprint, bench/drain), and reads what the kernel
// counts for it in /proc: resident memory, CPU time and bytes written to
// storage. It is test support: every function takes the test's testing.TB
// and fails it on error.
package edgepubproc

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgepub/edgepub/internal/testutil"
)

// edgepubPkg is the package of the edgepub binary.
const edgepubPkg = "github.com/edgepub/edgepub/cmd/edgepub"

// Build compiles cmd/edgepub into a temporary directory as the packages
// ship it and returns the binary's path.
func Build(tb testing.TB) string {
	tb.Helper()
	return BuildPackage(tb, edgepubPkg)
}

// BuildPackage compiles a main package as the Makefile builds edgepub:
// static (CGO_ENABLED=0), -trimpath, stripped (-s -w), -tags nodemo. The binary's size
// and how much of it is mapped count in RSS, so a baseline must be built
// the same way.
func BuildPackage(tb testing.TB, pkg string) string {
	tb.Helper()
	bin, err := BuildInto(tb.TempDir(), pkg)
	if err != nil {
		tb.Fatal(err)
	}
	return bin
}

// BuildInto is BuildPackage into dir, for a binary that several tests
// share; the caller removes dir.
func BuildInto(dir, pkg string) (string, error) {
	bin := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-tags", "nodemo", "-trimpath", "-ldflags", "-s -w", "-o", bin, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin, nil
}

// Config is the part of edgepub's config.yaml a benchmark sets; everything
// else keeps its default.
type Config struct {
	Broker   string // ssl://127.0.0.1:PORT
	CertDir  string
	StateDir string
	// Sensors simulated sensors read every Interval, alternating sim-bme280
	// (three fields) and sim-soc (one field).
	Sensors  int
	Interval time.Duration
	// BackoffMax bounds the reconnect delay; 0 keeps the default (2 min).
	BackoffMax time.Duration
	// Extra is appended verbatim (top-level YAML keys).
	Extra string
}

// Write writes the config file into a temporary directory.
func (c Config) Write(tb testing.TB) string {
	tb.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "broker:\n  urls: [%q]\n  start_jitter: 0s\n", c.Broker)
	if c.BackoffMax > 0 {
		fmt.Fprintf(&b, "  backoff_min: %s\n  backoff_max: %s\n", min(time.Second, c.BackoffMax), c.BackoffMax)
	}
	fmt.Fprintf(&b, "certs:\n  dir: %q\nstate_dir: %q\nsensors:\n", c.CertDir, c.StateDir)
	timeout := min(2*time.Second, c.Interval/2)
	for i := range c.Sensors {
		typ := "sim-bme280"
		if i%2 == 1 {
			typ = "sim-soc"
		}
		fmt.Fprintf(&b, "  - {name: sim%02d, type: %s, interval: %s, timeout: %s}\n", i, typ, c.Interval, timeout)
	}
	b.WriteString(c.Extra)
	path := filepath.Join(tb.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// StateDir returns a new directory for the daemon's state (its outbox)
// under $EDGEPUB_BENCH_DIR, or a test temp dir if that is unset; it is
// removed after the benchmark. Storage-write numbers need a filesystem of
// their own: a sync() or syncfs() by any other process (dpkg, a test
// suite) writes back the outbox's dirty pages early, and they then count
// as written instead of cancelled. BENCHMARKS.md shows how to mount a
// small ext4 image for it.
func StateDir(tb testing.TB) string {
	tb.Helper()
	parent := os.Getenv("EDGEPUB_BENCH_DIR")
	if parent == "" {
		return tb.TempDir()
	}
	dir, err := os.MkdirTemp(parent, "edgepub-state-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// Proc is one running `edgepub run`. Its log goes into memory through a
// pipe, so that it does not count as storage writes of the process (on a
// device it goes to journald, a socket); a failed test prints it.
type Proc struct {
	tb   testing.TB
	cmd  *exec.Cmd
	done chan struct{}
	log  testutil.Buffer
}

// Opts says how to start edgepub.
type Opts struct {
	// Config is the config file, passed as --config.
	Config string
	// Env (KEY=value, e.g. GOGC=50) is added to this process's environment.
	Env []string
	// Netns, if set, is the network namespace to run in (ip netns exec).
	Netns string
}

// Start runs `bin run --config o.Config`; the test's cleanup kills it.
func Start(tb testing.TB, bin string, o Opts) *Proc {
	tb.Helper()
	argv := []string{bin, "run", "--config", o.Config}
	if o.Netns != "" {
		argv = append([]string{"ip", "netns", "exec", o.Netns}, argv...)
	}
	p := &Proc{tb: tb, done: make(chan struct{})}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Env = append(os.Environ(), o.Env...)
	p.cmd.Stdout, p.cmd.Stderr = &p.log, &p.log
	if err := p.cmd.Start(); err != nil {
		tb.Fatalf("start edgepub: %v", err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	tb.Cleanup(func() {
		p.Kill()
		if tb.Failed() {
			tb.Logf("edgepub log (pid %d):\n%s", p.PID(), p.Log())
		}
	})
	return p
}

// PID is the process id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Log returns what edgepub logged so far.
func (p *Proc) Log() string { return p.log.String() }

// WaitLog waits until the log contains s, failing the test after timeout
// or if the process exits.
func (p *Proc) WaitLog(s string, timeout time.Duration) {
	p.tb.Helper()
	testutil.Eventually(p.tb, timeout, fmt.Sprintf("edgepub logged %q", s), func() bool {
		select {
		case <-p.done:
			p.tb.Fatalf("edgepub exited before logging %q:\n%s", s, p.Log())
		default:
		}
		return strings.Contains(p.Log(), s)
	})
}

// Send delivers sig without waiting, e.g. SIGSTOP to freeze it.
func (p *Proc) Send(sig syscall.Signal) { p.cmd.Process.Signal(sig) }

// Stop sends SIGTERM and waits up to 10 s for the exit.
func (p *Proc) Stop() { p.signal(syscall.SIGTERM) }

// Kill sends SIGKILL and waits for the exit.
func (p *Proc) Kill() { p.signal(syscall.SIGKILL) }

// ExitCode is the exit code once the process ended, -1 before or when a
// signal ended it.
func (p *Proc) ExitCode() int {
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	default:
		return -1
	}
}

func (p *Proc) signal(sig syscall.Signal) {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// Sample is what the kernel counts for a process at one moment.
type Sample struct {
	At time.Time
	// RSSKiB and HWMKiB are VmRSS and VmHWM (peak RSS) of /proc/PID/status.
	RSSKiB, HWMKiB int64
	// RssAnonKiB is the anonymous part of RSS (heap, stacks, runtime);
	// RssFileKiB the mapped binary's pages that are resident.
	RssAnonKiB, RssFileKiB int64
	// CPU is utime+stime of /proc/PID/stat (10 ms ticks).
	CPU time.Duration
	// RunTime and Timeslices are summed over the live threads'
	// /proc/PID/task/*/schedstat: time on a CPU (ns resolution) and how
	// many times a thread was put on a CPU, i.e. its wake-ups.
	RunTime    time.Duration
	Timeslices int64
	// ReferencedKiB is Referenced of /proc/PID/smaps_rollup: the resident
	// pages touched since the last ClearRefs (or the start), i.e. the
	// working set, which RSS overstates when the kernel maps whole large
	// folios of the binary around each page the process touches.
	ReferencedKiB int64
	// WriteBytes and CancelledWriteBytes are from /proc/PID/io: bytes the
	// process dirtied for storage, and dirty bytes it truncated or deleted
	// before writeback.
	WriteBytes, CancelledWriteBytes int64
}

// NetWrites is what reaches storage: write_bytes − cancelled_write_bytes.
func (s Sample) NetWrites() int64 { return s.WriteBytes - s.CancelledWriteBytes }

// clockTicks is USER_HZ, which is 100 on every Linux architecture edgepub
// is built for.
const clockTicks = 100

// Read samples process pid.
func Read(tb testing.TB, pid int) Sample {
	tb.Helper()
	s := Sample{At: time.Now()}
	dir := "/proc/" + strconv.Itoa(pid)
	status, err := os.ReadFile(dir + "/status")
	if err != nil {
		tb.Fatal(err)
	}
	fields := keyValues(status, ":")
	s.RSSKiB, s.HWMKiB = kib(fields["VmRSS"]), kib(fields["VmHWM"])
	s.RssAnonKiB, s.RssFileKiB = kib(fields["RssAnon"]), kib(fields["RssFile"])
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		tb.Fatal(err)
	}
	// The command name may hold spaces; fields count from after its ')'.
	rest := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	utime, _ := strconv.ParseInt(rest[11], 10, 64)
	stime, _ := strconv.ParseInt(rest[12], 10, 64)
	s.CPU = time.Duration(utime+stime) * time.Second / clockTicks
	s.RunTime, s.Timeslices = schedstat(dir)
	if rollup, err := os.ReadFile(dir + "/smaps_rollup"); err == nil {
		s.ReferencedKiB = kib(keyValues(rollup, ":")["Referenced"])
	}
	io, err := os.ReadFile(dir + "/io")
	if err != nil {
		tb.Fatal(err)
	}
	ioFields := keyValues(io, ":")
	s.WriteBytes, _ = strconv.ParseInt(ioFields["write_bytes"], 10, 64)
	s.CancelledWriteBytes, _ = strconv.ParseInt(ioFields["cancelled_write_bytes"], 10, 64)
	return s
}

// ClearRefs clears the referenced bits of pid's pages, so that a later
// Sample's ReferencedKiB counts only the pages touched after it.
func ClearRefs(tb testing.TB, pid int) {
	tb.Helper()
	if err := os.WriteFile("/proc/"+strconv.Itoa(pid)+"/clear_refs", []byte("1"), 0); err != nil {
		tb.Fatal(err)
	}
}

// schedstat sums the schedstat lines of the process's threads: run time
// in ns, wait time, timeslices. A thread gone between the listing and the
// read counts as nothing.
func schedstat(dir string) (time.Duration, int64) {
	tasks, _ := filepath.Glob(dir + "/task/*/schedstat")
	var run, slices int64
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) < 3 {
			continue
		}
		r, _ := strconv.ParseInt(f[0], 10, 64)
		n, _ := strconv.ParseInt(f[2], 10, 64)
		run, slices = run+r, slices+n
	}
	return time.Duration(run), slices
}

func keyValues(b []byte, sep string) map[string]string {
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), sep)
		if ok {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return m
}

// kib parses "1234 kB".
func kib(v string) int64 {
	n, _ := strconv.ParseInt(strings.TrimSuffix(v, " kB"), 10, 64)
	return n
}
