package outbox

import (
	"context"
	"os"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/edgepub/edgepub/internal/logging"
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

// slowSync makes every fsync of o take *d on the bubble's clock.
func slowSync(o *Outbox, d *time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.syncFile = func(f *os.File) error {
		time.Sleep(*d)
		return f.Sync()
	}
}

func TestSlowFsyncMovesTheNextOneForward(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		o := e.open(nil)
		took := 600 * time.Millisecond
		slowSync(o, &took)
		window, tick := o.opts.SyncWindow, o.tickEvery

		// Without a measured fsync the sync starts one tick before the
		// window ends; this one takes 600 ms, so the reading is durable
		// only at 1.35 s.
		e.appendN(o, 1)
		time.Sleep(window - tick)
		o.tick()
		if st := o.Stats(); st.Syncs != 1 {
			t.Fatalf("Syncs = %d, want 1", st.Syncs)
		}

		// The next fsync starts 600 ms earlier, so it ends within the window.
		appended := time.Now()
		e.appendN(o, 1)
		time.Sleep(window - tick - took - time.Millisecond)
		o.tick()
		if st := o.Stats(); st.Syncs != 1 {
			t.Fatalf("synced at %v, before window - tick - last fsync", window-tick-took-time.Millisecond)
		}
		time.Sleep(time.Millisecond)
		o.tick()
		if st := o.Stats(); st.Syncs != 2 {
			t.Fatalf("Syncs = %d, want 2: the fsync did not start %v before the window ended", st.Syncs, tick+took)
		}
		if end := time.Since(appended); end > window {
			t.Fatalf("the reading was durable %v after it was appended, beyond the %v window", end, window)
		}

		// Fast fsyncs let the lead shrink again, by half per fsync.
		took = 0
		for range 4 {
			e.appendN(o, 1)
			time.Sleep(window)
			o.tick()
		}
		o.mu.Lock()
		lead := o.disk.syncLead
		o.mu.Unlock()
		if lead != 600*time.Millisecond/16 {
			t.Fatalf("lead after 4 instant fsyncs = %v, want %v", lead, 600*time.Millisecond/16)
		}
		if n := e.logs.count(logging.MsgSlowSync); n != 0 {
			t.Fatalf("logged %d slow fsyncs, but none took longer than the window", n)
		}
	})
}

func TestFsyncSlowerThanTheWindowIsLoggedOncePerEpisode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		o := e.open(nil)
		took := 1500 * time.Millisecond
		slowSync(o, &took)
		for range 3 {
			e.appendN(o, 1)
			time.Sleep(o.opts.SyncWindow)
			o.tick()
		}
		if n := e.logs.count(logging.MsgSlowSync); n != 1 {
			t.Fatalf("logged %d slow-fsync records for one episode of 3, want 1:\n%s", n, e.logs.String())
		}
		if !strings.Contains(e.logs.String(), `"took":1500000000`) {
			t.Fatalf("the record does not say how long the fsync took:\n%s", e.logs.String())
		}
		// The stretch ends only after a quiet minute.
		took = time.Millisecond
		e.appendN(o, 1)
		time.Sleep(o.opts.SyncWindow)
		o.tick()
		if strings.Contains(e.logs.String(), `"slow_fsyncs"`) {
			t.Fatalf("the stretch of slow fsyncs ended at the first fast one:\n%s", e.logs.String())
		}
		time.Sleep(slowSyncQuiet)
		e.appendN(o, 1)
		time.Sleep(o.opts.SyncWindow)
		o.tick()
		if !strings.Contains(e.logs.String(), `"slow_fsyncs":3`) {
			t.Fatalf("the end of the episode was not logged with its count:\n%s", e.logs.String())
		}
		took = 1500 * time.Millisecond
		e.appendN(o, 1)
		time.Sleep(o.opts.SyncWindow)
		o.tick()
		if n := e.logs.count(logging.MsgSlowSync); n != 2 {
			t.Fatalf("a new episode was logged %d times in all, want 2", n)
		}
	})
}

// A reading that waited before Append (a busy disk held the lock, or a slow
// sensor read) counts its window from when it was taken.
func TestWindowCountsFromTheReadingTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		o := e.open(nil)
		window, tick := o.opts.SyncWindow, o.tickEvery
		e.appendN(o, 1) // a fresh reading: its mark is now
		if _, err := o.Append(time.Now().Add(-(window - tick)), encodeSeq); err != nil {
			t.Fatal(err)
		}
		o.tick()
		if st := o.Stats(); st.Syncs != 1 {
			t.Fatalf("Syncs = %d: a reading taken %v ago was not synced at once", st.Syncs, window-tick)
		}
		// A reading stamped in the future (the clock was set back) counts
		// from its append.
		e.appendN(o, 1)
		if _, err := o.Append(time.Now().Add(time.Hour), encodeSeq); err != nil {
			t.Fatal(err)
		}
		time.Sleep(window - tick - time.Millisecond)
		o.tick()
		if st := o.Stats(); st.Syncs != 1 {
			t.Fatalf("Syncs = %d, want still 1 before the window of the appends is nearly over", st.Syncs)
		}
		time.Sleep(time.Millisecond)
		o.tick()
		if st := o.Stats(); st.Syncs != 2 {
			t.Fatalf("Syncs = %d, want 2", st.Syncs)
		}
	})
}

// Run ticks rarely while nothing waits for an fsync, and an Append after a
// long quiet spell still gets its fsync within the window.
func TestRunSyncsWithinTheWindowAfterAQuietSpell(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		opts := e.opts()
		opts.SyncWindow = idleTickEvery / 5
		o := e.open(opts)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { o.Run(ctx); close(done) }()
		defer func() { cancel(); <-done }()
		for _, quiet := range []time.Duration{10 * time.Second, idleTickEvery - opts.SyncWindow/2, idleTickEvery / 3} {
			time.Sleep(quiet)
			syncs := o.Stats().Syncs
			e.appendN(o, 1)
			time.Sleep(o.opts.SyncWindow)
			synctest.Wait()
			if got := o.Stats().Syncs - syncs; got != 1 {
				t.Fatalf("after %v quiet, %d fsyncs within the %v window, want 1", quiet, got, o.opts.SyncWindow)
			}
		}
	})
}
