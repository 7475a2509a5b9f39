package outbox

import (
	"testing"
	"testing/synctest"
	"time"
)

func TestAckedReadingsAreNeverSynced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		o := e.open(nil)
		for range 20 {
			seq := e.appendN(o, 1)[0]
			time.Sleep(5 * time.Millisecond)
			o.Ack(seq)
			time.Sleep(300 * time.Millisecond)
			o.tick()
		}
		if st := o.Stats(); st.Syncs != 0 {
			t.Fatalf("Syncs = %d while every reading was acked within the window", st.Syncs)
		}
	})
}

func TestUnackedReadingIsSyncedWithinTheWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		o := e.open(nil)
		e.appendN(o, 3)
		time.Sleep(o.opts.SyncWindow - o.tickEvery - time.Millisecond)
		o.tick()
		if st := o.Stats(); st.Syncs != 0 {
			t.Fatalf("synced %d times before the window was nearly over", st.Syncs)
		}
		time.Sleep(time.Millisecond)
		o.tick()
		if st := o.Stats(); st.Syncs != 1 {
			t.Fatalf("Syncs = %d, want 1 once the oldest unacked reading is a window old", st.Syncs)
		}
		// Synced data is not synced again; new unacked data is.
		time.Sleep(o.opts.SyncWindow)
		o.tick()
		e.appendN(o, 1)
		time.Sleep(o.opts.SyncWindow)
		o.tick()
		if st := o.Stats(); st.Syncs != 2 {
			t.Fatalf("Syncs = %d, want 2", st.Syncs)
		}
	})
}

func TestAckedSegmentIsReplacedAndDeleted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		o := e.open(nil)
		first := segmentFiles(t, e.dir)[0]
		for _, seq := range e.appendN(o, 5) {
			o.Ack(seq)
		}
		time.Sleep(rotateAfter - time.Millisecond)
		o.tick()
		if files := segmentFiles(t, e.dir); len(files) != 1 || files[0] != first {
			t.Fatalf("segment replaced before rotateAfter: %v", files)
		}
		time.Sleep(time.Millisecond)
		// A reading appended just now and not yet acked does not hold the
		// segment: the broker is keeping up.
		fresh := e.appendN(o, 1)[0]
		o.tick()
		files := segmentFiles(t, e.dir)
		if len(files) != 2 || files[0] != first {
			t.Fatalf("after rotation segment files = %v", files)
		}
		o.Ack(fresh)
		o.tick()
		if files := segmentFiles(t, e.dir); len(files) != 1 || files[0] == first {
			t.Fatalf("finished segment not deleted: %v", files)
		}
		if st := o.Stats(); st.Syncs != 0 || st.Backlog != 0 {
			t.Fatalf("Stats = %+v", st)
		}
	})
}

func TestOutageKeepsOneGrowingSegment(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		o := e.open(nil)
		for range 30 {
			e.appendN(o, 10)
			time.Sleep(time.Second)
			o.tick()
		}
		if files := segmentFiles(t, e.dir); len(files) != 1 {
			t.Fatalf("unacked readings spread over %d segments, want 1", len(files))
		}
		if st := o.Stats(); st.Syncs != 30 || st.Backlog != 300 {
			t.Fatalf("Stats = %+v, want one sync per window", st)
		}
	})
}

func TestOneUnackedReadingAmongAckedOnesIsSynced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		o := e.open(nil)
		for _, seq := range e.appendN(o, 10) {
			if seq != 5 {
				o.Ack(seq)
			}
		}
		time.Sleep(o.opts.SyncWindow)
		o.tick()
		if st := o.Stats(); st.Syncs != 1 {
			t.Fatalf("Syncs = %d, want 1 for the one unacked reading", st.Syncs)
		}
	})
}

func TestSyncMarksStayFewAtHighRates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		o := e.open(nil)
		for range 10000 {
			e.appendN(o, 1)
			time.Sleep(time.Millisecond)
		}
		o.mu.Lock()
		n := len(o.disk.syncMarks)
		o.mu.Unlock()
		if limit := int(10*time.Second/(o.tickEvery/syncMarksPerTick)) + 1; n > limit {
			t.Fatalf("%d sync marks for 10 s of readings, want at most %d", n, limit)
		}
		o.tick()
		if st := o.Stats(); st.Syncs != 1 {
			t.Fatalf("Syncs = %d, want 1", st.Syncs)
		}
		o.mu.Lock()
		n = len(o.disk.syncMarks)
		o.mu.Unlock()
		if n != 0 {
			t.Fatalf("%d sync marks left after a sync that covered everything", n)
		}
	})
}
