package outbox

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/edgepub/edgepub/internal/logging"
)

func TestFullOutboxDropsOldest(t *testing.T) {
	e := newEnv(t)
	opts := e.opts()
	opts.MaxBytes = 64 << 10
	opts.SegmentBytes = 8 << 10
	o := e.open(opts)
	const n = 2000
	e.appendN(o, n)

	st := o.Stats()
	if st.Bytes > opts.MaxBytes {
		t.Fatalf("outbox holds %d bytes, above MaxBytes %d", st.Bytes, opts.MaxBytes)
	}
	if st.DroppedFull == 0 || st.DroppedFull+uint64(st.Backlog) != n || st.Dropped != st.DroppedFull {
		t.Fatalf("Stats = %+v: dropped and backlog must add up to %d", st, n)
	}
	got := pendingSeqs(t, o)
	wantSeqs(t, got, seqRange(st.DroppedFull+1, n))
	if st.LastSeq != n {
		t.Fatalf("LastSeq = %d, want %d", st.LastSeq, n)
	}
	if c := e.logs.count(logging.MsgReadingsDropped); c != 1 {
		t.Fatalf("drops logged %d times, want once per episode", c)
	}
	// Appending never stops, and a restart keeps the newest.
	e.appendN(o, 10)
	o.Close()
	o = e.open(opts)
	got = pendingSeqs(t, o)
	if got[len(got)-1] != n+10 {
		t.Fatalf("after restart the newest seq is %d, want %d", got[len(got)-1], n+10)
	}
	files := 0
	for _, f := range segmentFiles(t, e.dir) {
		files += int(fileSize(t, f))
	}
	if int64(files) > opts.MaxBytes {
		t.Fatalf("segment files hold %d bytes, above %d", files, opts.MaxBytes)
	}
}

func TestFullEpisodeEndsWhenDrained(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		opts := e.opts()
		opts.MaxBytes = 64 << 10
		opts.SegmentBytes = 8 << 10
		o := e.open(opts)
		e.appendN(o, 1000)
		for _, seq := range pendingSeqs(t, o) {
			o.Ack(seq)
		}
		time.Sleep(rotateAfter)
		o.tick()
		e.appendN(o, 1000)
		if c := e.logs.count(logging.MsgReadingsDropped); c != 2 {
			t.Fatalf("drops logged %d times for two episodes, want 2", c)
		}
	})
}

func TestMaxAgeDropsOldReadings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		opts := e.opts()
		opts.MaxAge = time.Hour
		o := e.open(opts)
		for range 10 {
			e.appendN(o, 6)
			time.Sleep(10 * time.Minute)
		}
		// The 10 batches of 6 are now 100, 90, … 10 minutes old: the four
		// batches older than an hour go, the one exactly an hour old stays.
		o.tick()
		st := o.Stats()
		if st.DroppedAge != 24 || st.Backlog != 36 {
			t.Fatalf("Stats = %+v, want 24 dropped for age and 36 kept", st)
		}
		wantSeqs(t, pendingSeqs(t, o), seqRange(25, 60))
		for range 3 {
			time.Sleep(10 * time.Minute)
			o.tick()
		}
		if st := o.Stats(); st.DroppedAge != 42 {
			t.Fatalf("DroppedAge = %d, want 42", st.DroppedAge)
		}
		if c := e.logs.count(logging.MsgReadingsDropped); c != 1 {
			t.Fatalf("age drops logged %d times, want once per episode", c)
		}
		wantSeqs(t, e.appendN(o, 1), []uint64{61})
	})
}

func TestMemoryLimitDropsOldest(t *testing.T) {
	e := newEnv(t)
	e.dir = notCreatableDir(t)
	opts := e.opts()
	opts.MemoryLimit = 100
	o := e.open(opts)
	e.appendN(o, 150)
	st := o.Stats()
	if st.DiskErr == nil || st.InMemory != 100 || st.DroppedMemory != 50 || st.Backlog != 100 {
		t.Fatalf("Stats = %+v", st)
	}
	wantSeqs(t, pendingSeqs(t, o), nil) // held until a lease is on disk
	if c := e.logs.count(logging.MsgReadingsDropped); c != 1 {
		t.Fatalf("memory drops logged %d times, want once", c)
	}
}
