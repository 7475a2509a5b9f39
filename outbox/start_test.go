package outbox

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/edgepub/edgepub/internal/testutil"
)

// Start ticks on a timer: an Append to an idle outbox brings the next tick
// forward so the reading is synced within SyncWindow (the idle tick is a
// second away), and the loop ends with ctx. (That no goroutine waits between
// rounds is internal/periodic's test: counting the process's goroutines
// here also counted other tests' leftovers, and failed in make test once.)
func TestStartSyncsWithinWindowAfterIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		opts := e.opts()
		opts.SyncWindow = 400 * time.Millisecond // ticks every 100 ms while a record waits
		o := e.open(opts)
		ctx, cancel := context.WithCancel(t.Context())
		start := time.Now()
		loop := o.Start(ctx)

		// Idle ticks at 0.1 s, 1.1 s, 2.1 s; append just after the last.
		time.Sleep(2100*time.Millisecond + time.Millisecond - time.Since(start))
		synctest.Wait()
		e.appendN(o, 1)
		time.Sleep(opts.SyncWindow)
		synctest.Wait()
		if st := o.Stats(); st.Syncs != 1 {
			t.Fatalf("Syncs = %d a sync window after the append, want 1: the append did not bring the idle tick forward", st.Syncs)
		}

		cancel()
		synctest.Wait()
		if !testutil.Closed(loop.Done()) {
			t.Fatal("loop still running after ctx was cancelled")
		}
	})
}
