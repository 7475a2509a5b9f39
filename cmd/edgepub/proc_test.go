package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edgepub/edgepub/internal/mosquittotest"
)

// binPath is the edgepub binary the process tests run, built once.
var (
	binOnce sync.Once
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

func edgepubBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "edgepub-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "edgepub")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// daemonProc is one edgepub run process; its log goes to a file that the
// test prints on failure.
type daemonProc struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

func startDaemonProc(t *testing.T, netns string, args ...string) *daemonProc {
	t.Helper()
	logf, err := os.CreateTemp(t.TempDir(), "edgepub-*.log")
	if err != nil {
		t.Fatal(err)
	}
	argv := append([]string{edgepubBinary(t), "run"}, args...)
	if netns != "" {
		argv = append([]string{"ip", "netns", "exec", netns}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &daemonProc{cmd: cmd, log: logf.Name(), done: make(chan struct{})}
	go func() { cmd.Wait(); logf.Close(); close(p.done) }()
	t.Cleanup(func() {
		p.signal(syscall.SIGKILL)
		if t.Failed() {
			t.Logf("edgepub log %s:\n%s", p.log, p.Log())
		}
	})
	return p
}

func (p *daemonProc) signal(sig syscall.Signal) {
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

func (p *daemonProc) Log() string {
	data, _ := os.ReadFile(p.log)
	return string(data)
}

// stopWithin sends SIGTERM and fails the test if the process needs longer
// than limit to exit.
func (p *daemonProc) stopWithin(t *testing.T, limit time.Duration) {
	t.Helper()
	start := time.Now()
	p.signal(syscall.SIGTERM)
	if took := time.Since(start); took > limit {
		t.Errorf("edgepub took %v to stop on SIGTERM, want under %v", took.Round(time.Millisecond), limit)
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("edgepub exited with %d after SIGTERM", code)
	}
}

func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// delivery summarises what the subscriber received of one device.
type delivery struct {
	seqs       []uint64 // in arrival order
	unique     map[uint64]bool
	maxSeq     uint64
	duplicates int
	rewinds    int // arrivals with a lower seq than the one before
}

func deliveries(t *testing.T, msgs []mosquittotest.Message, device string) delivery {
	t.Helper()
	d := delivery{unique: map[uint64]bool{}}
	for _, m := range msgs {
		if !strings.HasPrefix(m.Topic, device+"/sensors/") {
			continue
		}
		var r struct{ Seq uint64 }
		if err := json.Unmarshal([]byte(m.Payload), &r); err != nil {
			t.Fatalf("payload %q: %v", m.Payload, err)
		}
		if d.unique[r.Seq] {
			d.duplicates++
		}
		if n := len(d.seqs); n > 0 && r.Seq < d.seqs[n-1] {
			d.rewinds++
		}
		d.unique[r.Seq] = true
		d.seqs = append(d.seqs, r.Seq)
		d.maxSeq = max(d.maxSeq, r.Seq)
	}
	return d
}

// missing lists the seqs from 1 to the highest received that never arrived.
func (d delivery) missing() []uint64 {
	var out []uint64
	for s := uint64(1); s <= d.maxSeq; s++ {
		if !d.unique[s] {
			out = append(out, s)
		}
	}
	return out
}

func summarize(seqs []uint64) string {
	if len(seqs) == 0 {
		return "none"
	}
	s := append([]uint64(nil), seqs...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	var b bytes.Buffer
	for i, v := range s {
		if i == 20 {
			fmt.Fprintf(&b, "… (%d in all)", len(s))
			break
		}
		fmt.Fprintf(&b, "%d ", v)
	}
	return b.String()
}
