package outbox

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgepub/edgepub/internal/testutil"
)

// logBuffer collects JSON log lines so tests can count events.
type logBuffer struct{ testutil.Buffer }

// count returns how many log lines carry the message id.
func (l *logBuffer) count(msgID string) int {
	return strings.Count(l.String(), `"message_id":"`+msgID+`"`)
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// testEnv bundles what most tests share.
type testEnv struct {
	t    *testing.T
	dir  string
	logs *logBuffer
	boot string
}

func newEnv(t *testing.T) *testEnv {
	t.Helper()
	return &testEnv{t: t, dir: filepath.Join(t.TempDir(), "outbox"), logs: &logBuffer{}, boot: "boot-1"}
}

func (e *testEnv) opts() *Opts {
	return &Opts{
		Logger: e.logs.logger(),
		BootID: func() (string, error) { return e.boot, nil },
	}
}

func (e *testEnv) open(opts *Opts) *Outbox {
	e.t.Helper()
	if opts == nil {
		opts = e.opts()
	}
	o, err := Open(e.dir, opts)
	if err != nil {
		e.t.Fatalf("Open: %v", err)
	}
	e.t.Cleanup(func() { o.Close() })
	return o
}

// payloadFor is a realistic reading that embeds its seq.
func payloadFor(seq uint64) []byte {
	return fmt.Appendf(nil, `{"seq":%d,"device":"pi-garden","sensor":"bme280","time":"2026-11-26T12:00:00Z","values":{"temperature_c":21.37,"humidity_pct":48.2,"pressure_hpa":1013.25}}`, seq)
}

func encodeSeq(seq uint64) ([]byte, error) { return payloadFor(seq), nil }

// appendN appends n readings at the (bubble's) current time and returns their seqs.
func (e *testEnv) appendN(o *Outbox, n int) []uint64 {
	e.t.Helper()
	seqs := make([]uint64, 0, n)
	for range n {
		seq, err := o.Append(time.Now(), encodeSeq)
		if err != nil {
			e.t.Fatalf("Append: %v", err)
		}
		seqs = append(seqs, seq)
	}
	return seqs
}

// pendingSeqs returns the seqs Pending yields, checking each payload.
func pendingSeqs(t *testing.T, o *Outbox) []uint64 {
	t.Helper()
	recs, err := o.Pending(0, 1<<30)
	if err != nil {
		t.Fatalf("Pending: %v", err)
	}
	seqs := make([]uint64, 0, len(recs))
	for _, r := range recs {
		if !bytes.Equal(r.Payload, payloadFor(r.Seq)) {
			t.Fatalf("record %d has payload %q", r.Seq, r.Payload)
		}
		seqs = append(seqs, r.Seq)
	}
	return seqs
}

func seqRange(from, to uint64) []uint64 {
	var s []uint64
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

func wantSeqs(t *testing.T, got, want []uint64) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("seqs = %v\nwant %v", abbreviate(got), abbreviate(want))
	}
}

func abbreviate(s []uint64) string {
	if len(s) <= 20 {
		return fmt.Sprint(s)
	}
	return fmt.Sprintf("%v … %v (%d)", s[:10], s[len(s)-10:], len(s))
}

// crash abandons o the way SIGKILL does: the kernel closes the files, nothing
// is synced, the lease is not updated. The page cache keeps what was written.
func crash(o *Outbox) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closed = true
	for _, s := range o.disk.segs {
		s.closeFile()
	}
	o.seq.close()
	if o.lockFile != nil {
		o.lockFile.Close()
		o.lockFile = nil
	}
}

// segmentFiles lists the segment files in dir.
func segmentFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+segmentSuffix))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

var errTestDisk = fmt.Errorf("test disk failure: %w", os.ErrPermission)
