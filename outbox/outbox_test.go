package outbox

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/edgepub/edgepub/internal/logging"
)

func TestAppendPendingAck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		o := e.open(nil)
		wantSeqs(t, e.appendN(o, 10), seqRange(1, 10))

		recs, err := o.Pending(0, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 3 || recs[0].Seq != 1 || !recs[0].Time.Equal(time.Now()) || string(recs[2].Payload) != string(payloadFor(3)) {
			t.Fatalf("Pending(0, 3) = %+v", recs)
		}
		o.Ack(1)
		o.Ack(2)
		wantSeqs(t, pendingSeqs(t, o), seqRange(3, 10))
		if recs, err := o.Pending(0, 0); err != nil || len(recs) != 0 {
			t.Fatalf("Pending(0, 0) = %v, %v", recs, err)
		}
		if recs, err := o.Pending(0, -1); err != nil || len(recs) != 0 {
			t.Fatalf("Pending(0, -1) = %v, %v", recs, err)
		}
		recs, _ = o.Pending(7, 100)
		if len(recs) != 3 || recs[0].Seq != 8 {
			t.Fatalf("Pending(7, 100) returned %d records starting at %d", len(recs), recs[0].Seq)
		}
		st := o.Stats()
		if st.Backlog != 8 || st.LastSeq != 10 || st.DiskErr != nil || !st.Oldest.Equal(time.Now()) || st.Bytes == 0 {
			t.Fatalf("Stats = %+v", st)
		}
	})
}

func TestNotifyAfterAppend(t *testing.T) {
	e := newEnv(t)
	o := e.open(nil)
	select {
	case <-o.Notify():
		t.Fatal("notified before any Append")
	default:
	}
	e.appendN(o, 3)
	select {
	case <-o.Notify():
	default:
		t.Fatal("no notification after Append")
	}
}

func TestEncodeErrorDoesNotUseSeq(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		o := e.open(nil)
		boom := errors.New("boom")
		if _, err := o.Append(time.Now(), func(uint64) ([]byte, error) { return nil, boom }); !errors.Is(err, boom) {
			t.Fatalf("Append error = %v, want boom", err)
		}
		if _, err := o.Append(time.Now(), func(uint64) ([]byte, error) { return make([]byte, MaxPayload+1), nil }); err == nil {
			t.Fatal("oversized payload accepted")
		}
		wantSeqs(t, e.appendN(o, 1), []uint64{1})
	})
}

func TestRestartKeepsBacklogAndSeq(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		o := e.open(nil)
		e.appendN(o, 100)
		for seq := uint64(1); seq <= 30; seq++ {
			o.Ack(seq)
		}
		if err := o.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := o.Append(time.Now(), encodeSeq); !errors.Is(err, ErrClosed) {
			t.Fatalf("Append after Close = %v, want ErrClosed", err)
		}

		o = e.open(nil)
		wantSeqs(t, pendingSeqs(t, o), seqRange(31, 100))
		if st := o.Stats(); st.Backlog != 70 || st.LastSeq != 100 {
			t.Fatalf("after restart Stats = %+v", st)
		}
		wantSeqs(t, e.appendN(o, 2), []uint64{101, 102})
		if e.logs.count(logging.MsgSeqJumped) != 0 || e.logs.count(logging.MsgOutboxDamaged) != 0 {
			t.Fatalf("clean restart logged a jump or damage:\n%s", e.logs)
		}
	})
}

func TestOutOfOrderAcksAndReclaim(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		o := e.open(nil)
		e.appendN(o, 10)
		for _, seq := range []uint64{5, 3, 9, 1, 42, 3} {
			o.Ack(seq)
		}
		wantSeqs(t, pendingSeqs(t, o), []uint64{2, 4, 6, 7, 8, 10})
		recs, _ := o.Pending(4, 2)
		if len(recs) != 2 || recs[0].Seq != 6 || recs[1].Seq != 7 {
			t.Fatalf("Pending(4, 2) = %v", recs)
		}
		for _, seq := range []uint64{10, 8, 7, 6, 4, 2} {
			o.Ack(seq)
		}
		if st := o.Stats(); st.Backlog != 0 || !st.Oldest.IsZero() {
			t.Fatalf("after all acks Stats = %+v", st)
		}
		first := segmentFiles(t, e.dir)
		time.Sleep(rotateAfter)
		o.tick()
		files := segmentFiles(t, e.dir)
		if len(files) != 1 || files[0] == first[0] || fileSize(t, files[0]) != 0 {
			t.Fatalf("after reclaim segment files = %v (before %v)", files, first)
		}
		if st := o.Stats(); st.Bytes != 0 || st.Segments != 1 {
			t.Fatalf("after reclaim Stats = %+v", st)
		}
	})
}

func TestInvalidOpts(t *testing.T) {
	for name, opts := range map[string]*Opts{
		"negative max bytes":    {MaxBytes: -1},
		"tiny max bytes":        {MaxBytes: 1000},
		"segment above max/8":   {MaxBytes: 1 << 20, SegmentBytes: 1 << 18},
		"tiny segment":          {SegmentBytes: 100},
		"tiny sync window":      {SyncWindow: time.Microsecond},
		"negative memory limit": {MemoryLimit: -5},
		"negative max age":      {MaxAge: -time.Second},
	} {
		if _, err := Open(t.TempDir(), opts); !errors.Is(err, ErrInvalidOpts) {
			t.Errorf("%s: Open error = %v, want ErrInvalidOpts", name, err)
		}
	}
	if _, err := Open("", nil); !errors.Is(err, ErrInvalidOpts) {
		t.Errorf("empty dir: Open error = %v", err)
	}
	o, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatalf("default opts: %v", err)
	}
	o.Close()
}
