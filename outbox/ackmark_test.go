package outbox

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/edgepub/edgepub/internal/logging"
)

func TestCrashResendsOnlyUnackedReadings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		o := e.open(nil)
		e.appendN(o, 50)
		for seq := uint64(1); seq <= 10; seq++ {
			o.Ack(seq)
		}
		time.Sleep(ackMarkEvery)
		for seq := uint64(11); seq <= 20; seq++ {
			o.Ack(seq)
		}
		// Acks above the first unacked reading are not marked: they come back.
		o.Ack(25)
		o.Ack(30)
		o.tick()
		if st := o.Stats(); st.Syncs != 0 {
			t.Fatalf("Syncs = %d: ack marks must not be synced", st.Syncs)
		}
		crash(o)

		o = e.open(nil)
		wantSeqs(t, pendingSeqs(t, o), seqRange(21, 50))
		if st := o.Stats(); st.Backlog != 30 || st.LastSeq != 50 || st.OpenDamage != (Damage{}) {
			t.Fatalf("after crash Stats = %+v", st)
		}
		wantSeqs(t, e.appendN(o, 1), []uint64{51})
		if n := e.logs.count(logging.MsgOutboxDamaged) + e.logs.count(logging.MsgSeqJumped); n != 0 {
			t.Fatalf("crash with ack marks logged damage or a jump:\n%s", e.logs)
		}
	})
}

func TestAckMarksAreWrittenAtMostEveryInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		o := e.open(nil)
		const n = 1000
		for _, seq := range e.appendN(o, n) {
			o.Ack(seq)
			time.Sleep(time.Millisecond)
		}
		o.mu.Lock()
		writes, marked := o.disk.ackMarkWrites, o.disk.active.ackMark
		o.mu.Unlock()
		if limit := uint64(n*time.Millisecond/ackMarkEvery) + 1; writes > limit || writes < limit-1 {
			t.Fatalf("%d mark writes for %d acks over %v, want about %d", writes, n, n*time.Millisecond, limit)
		}
		if marked >= n || marked < n-uint64(ackMarkEvery/time.Millisecond) {
			t.Fatalf("mark %d lags more than %v of acks behind %d", marked, ackMarkEvery, n)
		}
		o.tick()
		o.mu.Lock()
		marked = o.disk.active.ackMark
		o.mu.Unlock()
		if marked != n {
			t.Fatalf("after a tick the mark is %d, want %d", marked, n)
		}
	})
}

func TestAckMarksPerSegment(t *testing.T) {
	e := newEnv(t)
	opts := e.opts()
	opts.MaxBytes = 128 << 10
	opts.SegmentBytes = 8 << 10
	o := e.open(opts)
	e.appendN(o, 150) // about four segments
	o.mu.Lock()
	var bounds [][2]uint64
	for _, s := range o.disk.segs {
		bounds = append(bounds, [2]uint64{s.recs[0].seq, s.recs[len(s.recs)-1].seq})
	}
	o.mu.Unlock()
	if len(bounds) < 3 {
		t.Fatalf("%d segments, want at least 3", len(bounds))
	}
	// The first segment keeps one reading unacked, the second is acked
	// completely, the third half way.
	keep := bounds[0][0] + 2
	half := (bounds[2][0] + bounds[2][1]) / 2
	for seq := uint64(1); seq <= half; seq++ {
		if seq != keep {
			o.Ack(seq)
		}
	}
	o.tick()
	crash(o)

	o = e.open(opts)
	want := seqRange(keep, bounds[0][1]) // acked after the gap, not marked
	want = append(want, seqRange(half+1, 150)...)
	wantSeqs(t, pendingSeqs(t, o), want)
	if files := segmentFiles(t, e.dir); slices.Contains(files, filepath.Join(e.dir, segmentName(bounds[1][0]))) {
		t.Fatalf("fully acked segment %d not deleted: %v", bounds[1][0], files)
	}
}

// A SIGKILL after the broker acknowledged a backlog leaves segments whose
// every record is acked until Run's next tick. Open must not index their
// records (64 MiB of them delayed edgepub's READY by about 100 ms, see
// bench/startup), and the first tick deletes them.
func TestOpenSkipsAckedSegments(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		opts := e.opts()
		opts.MaxBytes = 128 << 10
		opts.SegmentBytes = 8 << 10
		o := e.open(opts)
		e.appendN(o, 150) // about four segments
		o.mu.Lock()
		var bases []uint64
		for _, s := range o.disk.segs {
			bases = append(bases, s.base)
		}
		o.mu.Unlock()
		if len(bases) < 4 {
			t.Fatalf("%d segments, want at least 4", len(bases))
		}
		// The first two segments are acked completely (their marks reach
		// the next base − 1), the third only through its first record.
		acked := bases[2]
		for seq := uint64(1); seq < acked; seq++ {
			o.Ack(seq)
		}
		time.Sleep(ackMarkEvery)
		o.Ack(acked) // writes the marks
		crash(o)

		o = e.open(opts)
		o.mu.Lock()
		var skipped []bool
		for _, s := range o.disk.segs {
			skipped = append(skipped, s.acked && len(s.recs) == 0)
		}
		o.mu.Unlock()
		if want := []bool{true, true, false}; !slices.Equal(skipped[:3], want) {
			t.Fatalf("segments skipped by Open = %v, want %v…", skipped, want)
		}
		wantSeqs(t, pendingSeqs(t, o), seqRange(acked+1, 150))
		if st := o.Stats(); st.Backlog != int(150-acked) || st.LastSeq != 150 || st.OpenDamage != (Damage{}) {
			t.Fatalf("after crash Stats = %+v", st)
		}
		wantSeqs(t, e.appendN(o, 1), []uint64{151})

		o.tick()
		files := segmentFiles(t, e.dir)
		for _, base := range bases[:2] {
			if slices.Contains(files, filepath.Join(e.dir, segmentName(base))) {
				t.Fatalf("acked segment %d not deleted by the first tick: %v", base, files)
			}
		}
		if !slices.Contains(files, filepath.Join(e.dir, segmentName(bases[2]))) {
			t.Fatalf("segment %d with pending readings deleted: %v", bases[2], files)
		}
	})
}

// After a clean stop the lease's acked-through seq covers the acked
// segments; the newest one on disk, which tells the last seq, is still read.
func TestOpenAfterCloseSkipsAckedSegments(t *testing.T) {
	e := newEnv(t)
	opts := e.opts()
	opts.MaxBytes = 128 << 10
	opts.SegmentBytes = 8 << 10
	o := e.open(opts)
	for _, seq := range e.appendN(o, 150) {
		o.Ack(seq)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	onDisk := segmentFiles(t, e.dir)

	o = e.open(opts)
	o.mu.Lock()
	var skipped []bool
	for _, s := range o.disk.segs[:len(onDisk)] {
		skipped = append(skipped, s.acked && len(s.recs) == 0)
	}
	o.mu.Unlock()
	want := make([]bool, len(onDisk))
	for i := range len(onDisk) - 1 {
		want[i] = true
	}
	if len(onDisk) < 4 || !slices.Equal(skipped, want) {
		t.Fatalf("segments skipped by Open = %v, want %v", skipped, want)
	}
	if st := o.Stats(); st.Backlog != 0 || st.LastSeq != 150 {
		t.Fatalf("after Close Stats = %+v", st)
	}
	wantSeqs(t, e.appendN(o, 1), []uint64{151})
}

// markedSegment leaves a crashed outbox whose one segment holds 30 readings
// with ack marks 20 and, in the other slot, 10. It returns the segment's
// path and the offsets of the newer and the older slot.
func markedSegment(t *testing.T, e *testEnv) (path string, newer, older int64) {
	t.Helper()
	o := e.open(nil)
	e.appendN(o, 30)
	for seq := uint64(1); seq <= 10; seq++ {
		o.Ack(seq)
	}
	o.tick()
	for seq := uint64(11); seq <= 20; seq++ {
		o.Ack(seq)
	}
	o.tick()
	crash(o)
	files := segmentFiles(t, e.dir)
	if len(files) != 1 {
		t.Fatalf("segment files = %v, want one", files)
	}
	h := readHeader(t, files[0])
	newer, older = -1, -1
	for i := range ackSlots {
		off := int64(i * ackSlotSize)
		switch m, _ := decodeAckSlot(h[off:], 1); m {
		case 20:
			newer = off
		case 10:
			older = off
		}
	}
	if newer < 0 || older < 0 {
		t.Fatalf("slots do not hold marks 20 and 10: %x\n%x", h[:ackSlotLen], h[ackSlotSize:ackSlotSize+ackSlotLen])
	}
	return files[0], newer, older
}

func readHeader(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b[:segmentHeaderSize]
}

func TestTornAckSlotFallsBackToTheOlderMark(t *testing.T) {
	e := newEnv(t)
	path, newer, _ := markedSegment(t, e)
	flipByte(t, path, newer+17) // the newer mark's value

	o := e.open(nil)
	wantSeqs(t, pendingSeqs(t, o), seqRange(11, 30))
	if d := o.Stats().OpenDamage; d != (Damage{}) {
		t.Fatalf("OpenDamage = %+v with one slot intact", d)
	}
}

func TestDamagedAckSlotsResendTheSegment(t *testing.T) {
	e := newEnv(t)
	path, newer, older := markedSegment(t, e)
	flipByte(t, path, newer+3)  // magic
	flipByte(t, path, older+25) // checksum

	o := e.open(nil)
	wantSeqs(t, pendingSeqs(t, o), seqRange(1, 30))
	if d := o.Stats().OpenDamage; d != (Damage{AckMarksLost: 1}) {
		t.Fatalf("OpenDamage = %+v, want only the lost ack marks", d)
	}
	if n := e.logs.count(logging.MsgOutboxDamaged); n != 1 {
		t.Fatalf("lost ack marks logged %d times, want once", n)
	}
	// Every record is intact, so seq goes on without a jump.
	wantSeqs(t, e.appendN(o, 1), []uint64{31})
}

func TestAckSlotOfAnotherSegmentIsIgnored(t *testing.T) {
	e := newEnv(t)
	path, _, _ := markedSegment(t, e)
	// Give the segment another name: its slots name segment 1.
	renamed := filepath.Join(e.dir, segmentName(0))
	if err := os.Rename(path, renamed); err != nil {
		t.Fatal(err)
	}

	o := e.open(nil)
	wantSeqs(t, pendingSeqs(t, o), seqRange(1, 30))
	if d := o.Stats().OpenDamage; d.AckMarksLost != 1 {
		t.Fatalf("OpenDamage = %+v, want the foreign slots counted as lost", d)
	}
}

func TestTornHeaderIsATornTail(t *testing.T) {
	e := newEnv(t)
	o := e.open(nil)
	e.appendN(o, 1)
	crash(o)
	path := segmentFiles(t, e.dir)[0]
	if err := os.Truncate(path, segmentHeaderSize-100); err != nil {
		t.Fatal(err)
	}

	o = e.open(nil)
	if got := pendingSeqs(t, o); len(got) != 0 {
		t.Fatalf("pending = %v from a file shorter than its header", got)
	}
	if d := o.Stats().OpenDamage; d.TornTailBytes != segmentHeaderSize-100 || d.Segments != 1 {
		t.Fatalf("OpenDamage = %+v", d)
	}
	if seq := e.appendN(o, 1)[0]; seq <= 1 {
		t.Fatalf("seq %d reused after a torn first write", seq)
	}
}

func TestReadOnlySegmentSkipsMarksQuietly(t *testing.T) {
	e := newEnv(t)
	o := e.open(nil)
	e.appendN(o, 10)
	o.Close()
	o = e.open(nil)
	o.mu.Lock()
	s := o.disk.segs[0]
	if err := s.openFile(); err != nil {
		t.Fatal(err)
	}
	// As on a read-only mount: the file could only be opened for reading.
	s.closeFile()
	f, err := os.Open(s.path)
	if err != nil {
		t.Fatal(err)
	}
	s.file, s.readOnly = f, true
	o.mu.Unlock()

	for seq := uint64(1); seq <= 5; seq++ {
		o.Ack(seq)
	}
	o.tick()
	if bytes.Contains([]byte(e.logs.String()), []byte("cannot record acknowledgements")) {
		t.Fatalf("a read-only segment was reported as a mark failure:\n%s", e.logs)
	}
	crash(o)
	o = e.open(nil)
	wantSeqs(t, pendingSeqs(t, o), seqRange(1, 10))
}

func TestDecodeAckSlotRejectsEveryFlippedBit(t *testing.T) {
	b := encodeAckSlot(4711, 5000)
	if m, ok := decodeAckSlot(b, 4711); !ok || m != 5000 {
		t.Fatalf("decode = %d, %v", m, ok)
	}
	if _, ok := decodeAckSlot(b, 4712); ok {
		t.Fatal("slot accepted for another segment")
	}
	for i := range len(b) * 8 {
		c := bytes.Clone(b)
		c[i/8] ^= 1 << (i % 8)
		if m, ok := decodeAckSlot(c, 4711); ok {
			t.Fatalf("bit %d flipped: decoded mark %d", i, m)
		}
	}
	for n := range len(b) {
		if _, ok := decodeAckSlot(b[:n], 4711); ok {
			t.Fatalf("slot cut to %d bytes decoded", n)
		}
	}
}

// FuzzDecodeAckSlot feeds arbitrary bytes to the slot decoder: it must
// never panic and accept only the exact bytes encodeAckSlot writes for that
// segment, so damage can never skip an unacknowledged reading.
func FuzzDecodeAckSlot(f *testing.F) {
	f.Add(encodeAckSlot(1, 0), uint64(1))
	f.Add(encodeAckSlot(4711, 9000), uint64(4711))
	f.Add(encodeAckSlot(4711, 9000), uint64(1))
	f.Add(make([]byte, ackSlotLen), uint64(0))
	f.Add(bytes.Repeat([]byte{0xff}, ackSlotSize), uint64(1<<63))
	f.Fuzz(func(t *testing.T, b []byte, base uint64) {
		mark, ok := decodeAckSlot(b, base)
		if !ok {
			if mark != 0 {
				t.Fatalf("rejected slot returned mark %d", mark)
			}
			return
		}
		if re := encodeAckSlot(base, mark); !bytes.Equal(re, b[:ackSlotLen]) {
			t.Fatalf("accepted bytes %x are not the encoding %x", b[:ackSlotLen], re)
		}
	})
}
