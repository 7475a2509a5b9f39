package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgepub/edgepub/internal/edgepubproc"
	"github.com/edgepub/edgepub/internal/mosquittotest"
)

// binPath is the edgepub binary the process tests run, built once as the
// packages ship it.
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
		binPath, binErr = edgepubproc.BuildInto(dir, "github.com/edgepub/edgepub/cmd/edgepub")
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// startDaemonProc runs `edgepub run --config config`, in the network
// namespace netns if it is set.
func startDaemonProc(t *testing.T, netns, config string) *edgepubproc.Proc {
	t.Helper()
	return edgepubproc.Start(t, edgepubBinary(t), edgepubproc.Opts{Config: config, Netns: netns})
}

// stopWithin sends SIGTERM and fails the test if the process needs longer
// than limit to exit or exits with an error.
func stopWithin(t *testing.T, p *edgepubproc.Proc, limit time.Duration) {
	t.Helper()
	start := time.Now()
	p.Stop()
	if took := time.Since(start); took > limit {
		t.Errorf("edgepub took %v to stop on SIGTERM, want under %v", took.Round(time.Millisecond), limit)
	}
	if code := p.ExitCode(); code != 0 {
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
