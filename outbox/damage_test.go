package outbox

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/edgepub/edgepub/internal/logging"
)

// recordOffset returns where record i (0-based) of a segment of test
// readings starts, after the segment header.
func recordOffset(i int, first uint64) int64 {
	off := int64(segmentHeaderSize)
	for j := range i {
		off += int64(encodedSize(len(payloadFor(first + uint64(j)))))
	}
	return off
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x40
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// closedBacklog writes n readings, closes the outbox and returns the path of
// the segment that holds them.
func closedBacklog(t *testing.T, e *testEnv, n int) string {
	t.Helper()
	o := e.open(nil)
	e.appendN(o, n)
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	files := segmentFiles(t, e.dir)
	if len(files) != 1 {
		t.Fatalf("segment files = %v, want one", files)
	}
	return files[0]
}

func TestTornTail(t *testing.T) {
	e := newEnv(t)
	path := closedBacklog(t, e, 10)
	if err := os.Truncate(path, fileSize(t, path)-7); err != nil {
		t.Fatal(err)
	}

	o := e.open(nil)
	wantSeqs(t, pendingSeqs(t, o), seqRange(1, 9))
	d := o.Stats().OpenDamage
	if d.Segments != 1 || d.TornTailBytes != int64(encodedSize(len(payloadFor(10))))-7 || d.CorruptRegions != 0 {
		t.Fatalf("OpenDamage = %+v", d)
	}
	if n := e.logs.count(logging.MsgOutboxDamaged); n != 1 {
		t.Fatalf("damage logged %d times, want once:\n%s", n, e.logs)
	}
	if fileSize(t, path) != recordOffset(10, 1)-7 {
		t.Fatal("Open changed the damaged file")
	}
	// The torn seq may have been handed out: it is never used again.
	if seq := e.appendN(o, 1)[0]; seq <= 10 {
		t.Fatalf("seq after a torn tail = %d, reuses the torn record's seq", seq)
	}
}

func TestCorruptRecordsInTheMiddle(t *testing.T) {
	e := newEnv(t)
	path := closedBacklog(t, e, 30)
	flipByte(t, path, recordOffset(9, 1)+recordHeaderSize+5) // payload of seq 10
	flipByte(t, path, recordOffset(19, 1)+5)                 // length field of seq 20

	o := e.open(nil)
	want := slices.DeleteFunc(seqRange(1, 30), func(s uint64) bool { return s == 10 || s == 20 })
	wantSeqs(t, pendingSeqs(t, o), want)
	st := o.Stats()
	if d := st.OpenDamage; d.CorruptRegions != 2 || d.LostRecords != 2 || d.TornTailBytes != 0 || d.Segments != 1 {
		t.Fatalf("OpenDamage = %+v", d)
	}
	if st.Damaged != 2 || st.Dropped != 2 || st.Backlog != 28 {
		t.Fatalf("Stats = %+v", st)
	}
	if n := e.logs.count(logging.MsgOutboxDamaged); n != 1 {
		t.Fatalf("damage logged %d times, want once", n)
	}
}

func TestForeignFilesAreLeftAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		closedBacklog(t, e, 3)
		foreign := []string{"notes.txt", "00000000000000000001.seg.bak", "123.seg"}
		for _, name := range foreign {
			if err := os.WriteFile(filepath.Join(e.dir, name), []byte("not a segment"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Mkdir(filepath.Join(e.dir, "sub"), 0o700); err != nil {
			t.Fatal(err)
		}

		o := e.open(nil)
		wantSeqs(t, pendingSeqs(t, o), seqRange(1, 3))
		if d := o.Stats().OpenDamage; d.ForeignFiles != 4 || d.Segments != 0 {
			t.Fatalf("OpenDamage = %+v", d)
		}
		for _, seq := range seqRange(1, 3) {
			o.Ack(seq)
		}
		time.Sleep(rotateAfter)
		o.tick()
		o.Close()
		for _, name := range append(foreign, "sub") {
			if _, err := os.Stat(filepath.Join(e.dir, name)); err != nil {
				t.Errorf("foreign %s: %v", name, err)
			}
		}
		if n := e.logs.count(logging.MsgOutboxDamaged); n != 1 {
			t.Fatalf("damage logged %d times, want once", n)
		}
	})
}

func TestGarbageSegmentAndLease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		closedBacklog(t, e, 5)
		garbage := make([]byte, 5000)
		for i := range garbage {
			garbage[i] = byte(i * 7)
		}
		if err := os.WriteFile(filepath.Join(e.dir, segmentName(3)), garbage, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(e.dir, leaseName), garbage[:100], 0o600); err != nil {
			t.Fatal(err)
		}

		o := e.open(nil)
		// seqs 3..5 now lie in the range of the garbage segment's name, so the
		// first segment keeps 1..2 and the rest is counted as damage.
		got := pendingSeqs(t, o)
		if len(got) < 2 || got[0] != 1 || got[1] != 2 {
			t.Fatalf("pending = %v", got)
		}
		d := o.Stats().OpenDamage
		if !d.LeaseDamaged || d.Segments == 0 {
			t.Fatalf("OpenDamage = %+v", d)
		}
		if seq := e.appendN(o, 1)[0]; seq <= 5 {
			t.Fatalf("seq %d reused after damage", seq)
		}
		for _, seq := range pendingSeqs(t, o) {
			o.Ack(seq)
		}
		time.Sleep(rotateAfter)
		o.tick()
		if got := fileSize(t, filepath.Join(e.dir, segmentName(3))); got != int64(len(garbage)) {
			t.Fatalf("segment of pure garbage is %d bytes after reclaim, want it kept with %d", got, len(garbage))
		}
	})
}

func TestPendingDropsRecordDamagedAfterOpen(t *testing.T) {
	e := newEnv(t)
	o := e.open(nil)
	e.appendN(o, 5)
	flipByte(t, segmentFiles(t, e.dir)[0], recordOffset(2, 1)+recordHeaderSize+1)

	wantSeqs(t, pendingSeqs(t, o), []uint64{1, 2, 4, 5})
	if st := o.Stats(); st.Damaged != 1 || st.Backlog != 4 {
		t.Fatalf("Stats = %+v", st)
	}
	if n := e.logs.count(logging.MsgOutboxDamaged); n != 1 {
		t.Fatalf("read damage logged %d times, want once", n)
	}
}
