package outbox

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/edgepub/edgepub/internal/logging"
)

func TestCrashKeepsEverySeq(t *testing.T) {
	e := newEnv(t)
	o := e.open(nil)
	e.appendN(o, 50)
	for seq := uint64(1); seq <= 10; seq++ {
		o.Ack(seq)
	}
	crash(o)

	o = e.open(nil)
	// The first ack wrote the segment's ack mark; the nine after it came
	// within ackMarkEvery and were not marked yet: they come back as
	// duplicates, and no unacknowledged reading is missing.
	wantSeqs(t, pendingSeqs(t, o), seqRange(2, 50))
	wantSeqs(t, e.appendN(o, 1), []uint64{51})
	if n := e.logs.count(logging.MsgSeqJumped); n != 0 {
		t.Fatalf("seq jump logged %d times after a crash within the same boot", n)
	}
}

func TestCrashAfterSegmentsDeletedKeepsSeq(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		o := e.open(nil)
		for _, seq := range e.appendN(o, 20) {
			o.Ack(seq)
		}
		time.Sleep(rotateAfter)
		o.tick()
		if st := o.Stats(); st.Bytes != 0 {
			t.Fatalf("acked segment not deleted: %+v", st)
		}
		crash(o)

		o = e.open(nil)
		if st := o.Stats(); st.Backlog != 0 || st.LastSeq != 20 {
			t.Fatalf("after crash Stats = %+v, want empty backlog and last seq 20", st)
		}
		wantSeqs(t, e.appendN(o, 1), []uint64{21})
	})
}

func TestRepeatedCrashesNeverReuseSeq(t *testing.T) {
	e := newEnv(t)
	var last uint64
	for round := range 5 {
		o := e.open(nil)
		seqs := e.appendN(o, 7)
		if seqs[0] != last+1 {
			t.Fatalf("round %d started at seq %d, want %d", round, seqs[0], last+1)
		}
		last = seqs[len(seqs)-1]
		if round%2 == 0 {
			for _, s := range seqs {
				o.Ack(s)
			}
		}
		crash(o)
	}
}

func TestSeqJumpsAfterReboot(t *testing.T) {
	e := newEnv(t)
	o := e.open(nil)
	e.appendN(o, 5)
	crash(o)

	e.boot = "boot-2"
	o = e.open(nil)
	wantSeqs(t, pendingSeqs(t, o), seqRange(1, 5))
	seq := e.appendN(o, 1)[0]
	if seq < 1+leaseStep {
		t.Fatalf("first seq after reboot = %d, want at least the lease ceiling %d", seq, 1+leaseStep)
	}
	if n := e.logs.count(logging.MsgSeqJumped); n != 1 {
		t.Fatalf("seq jump logged %d times, want once:\n%s", n, e.logs)
	}
	if sk := o.Stats().Skipped; sk.First != 6 || sk.Last != seq-1 || sk.Reason == "" {
		t.Fatalf("Stats().Skipped = %+v, want 6..%d with a reason", sk, seq-1)
	}
	o.Close()

	// The jump is taken once: a clean restart in the new boot continues.
	o = e.open(nil)
	wantSeqs(t, e.appendN(o, 1), []uint64{seq + 1})
	if sk := o.Stats().Skipped; sk != (SeqRange{}) {
		t.Fatalf("Stats().Skipped = %+v after a clean restart, want none", sk)
	}
}

func TestLeaseCoversEverySeqHandedOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		o := e.open(nil)
		var last uint64
		for range 3*leaseStep/2 + 7 {
			seq, err := o.Append(time.Now(), func(seq uint64) ([]byte, error) { return []byte("x"), nil })
			if err != nil {
				t.Fatal(err)
			}
			o.Ack(seq)
			last = seq
			if seq%1000 == 0 {
				o.tick()
			}
		}
		lease, _, found, _, err := readLease(e.dir)
		if err != nil || !found {
			t.Fatalf("readLease: found=%v err=%v", found, err)
		}
		if lease.ceiling <= last {
			t.Fatalf("durable ceiling %d does not cover last seq %d", lease.ceiling, last)
		}
		crash(o)
		e.boot = "boot-2"
		o = e.open(nil)
		if seq := e.appendN(o, 1)[0]; seq <= last {
			t.Fatalf("after reboot seq %d reuses a seq up to %d", seq, last)
		}
	})
}

func TestCrashInMemoryModeJumps(t *testing.T) {
	e := newEnv(t)
	o := e.open(nil)
	e.appendN(o, 3)
	o.mu.Lock()
	o.enterDiskErrorLocked(errTestDisk)
	o.mu.Unlock()
	e.appendN(o, 4) // seqs 4..7 live only in memory and die with the process
	crash(o)

	o = e.open(nil)
	if seq := e.appendN(o, 1)[0]; seq <= 7 {
		t.Fatalf("seq %d reused after readings kept in memory were lost", seq)
	}
}
