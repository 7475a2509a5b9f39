package periodic

import (
	"context"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/edgepub/edgepub/internal/testutil"
)

// The job runs after first, then after each delay it returns, and the loop
// ends with ctx: no round after the cancel, and no goroutine waits between
// rounds.
func TestRoundsUntilCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		before := runtime.NumGoroutine()
		start := time.Now()
		var at []time.Duration
		l := Start(ctx, 2*time.Second, func(context.Context) (time.Duration, bool) {
			at = append(at, time.Since(start))
			return 3 * time.Second, true
		})
		time.Sleep(9 * time.Second) // fake time: rounds at 2, 5, 8 s
		synctest.Wait()
		if want := []time.Duration{2 * time.Second, 5 * time.Second, 8 * time.Second}; !slices.Equal(at, want) {
			t.Fatalf("rounds at %v, want %v", at, want)
		}
		if n := runtime.NumGoroutine(); n != before {
			t.Errorf("%d goroutines between rounds, want %d as before Start", n, before)
		}
		cancel()
		synctest.Wait()
		if !testutil.Closed(l.Done()) {
			t.Fatal("loop not done after ctx was cancelled")
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if len(at) != 3 {
			t.Fatalf("%d rounds, want no round after the cancel", len(at))
		}
	})
}

// A round that runs when ctx is cancelled finishes before Done closes.
func TestCancelWaitsForRunningRound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		release := make(chan struct{})
		var running, rounds atomic.Int32
		l := Start(ctx, 0, func(context.Context) (time.Duration, bool) {
			running.Store(1)
			<-release
			running.Store(0)
			rounds.Add(1)
			return time.Second, true
		})
		synctest.Wait()
		if running.Load() != 1 {
			t.Fatal("first round did not start at once")
		}
		cancel()
		synctest.Wait()
		if testutil.Closed(l.Done()) {
			t.Fatal("loop done while its round still runs")
		}
		close(release)
		l.Wait()
		time.Sleep(time.Minute)
		synctest.Wait()
		if n := rounds.Load(); n != 1 {
			t.Fatalf("%d rounds, want 1", n)
		}
	})
}

// again=false ends the loop without ctx.
func TestJobEndsLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rounds := 0
		l := Start(t.Context(), time.Second, func(context.Context) (time.Duration, bool) {
			rounds++
			return time.Second, rounds < 2
		})
		l.Wait()
		time.Sleep(time.Minute)
		synctest.Wait()
		if rounds != 2 {
			t.Fatalf("%d rounds, want 2", rounds)
		}
	})
}

// Reset brings the next round forward.
func TestReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		var at []time.Duration
		l := Start(t.Context(), time.Hour, func(context.Context) (time.Duration, bool) {
			at = append(at, time.Since(start))
			return time.Hour, true
		})
		time.Sleep(time.Second)
		l.Reset(time.Second)
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if want := []time.Duration{2 * time.Second}; !slices.Equal(at, want) {
			t.Fatalf("rounds at %v, want %v", at, want)
		}
	})
}

// A Reset while a round runs is not lost: the next round comes after the
// sooner of the Reset's delay and the round's own. WaitForReset waits for
// Reset.
func TestResetDuringRoundAndNegativeDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		var at []time.Duration
		var l *Loop
		resetInRound := true
		l = Start(t.Context(), WaitForReset, func(context.Context) (time.Duration, bool) {
			at = append(at, time.Since(start))
			if resetInRound {
				resetInRound = false
				l.Reset(2 * time.Second)
			}
			return WaitForReset, true
		})
		time.Sleep(time.Hour)
		synctest.Wait()
		if len(at) != 0 {
			t.Fatalf("rounds at %v before any Reset, want none", at)
		}
		l.Reset(0) // at 1 h; that round asks for another 2 s later
		time.Sleep(time.Hour)
		synctest.Wait()
		if want := []time.Duration{time.Hour, time.Hour + 2*time.Second}; !slices.Equal(at, want) {
			t.Fatalf("rounds at %v, want %v", at, want)
		}
	})
}

// NextTick keeps the ticker's phase and skips the ticks a late round
// missed.
func TestNextTick(t *testing.T) {
	due := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		now  time.Duration // after due
		want time.Duration // after due
	}{
		{-time.Second, 0},                    // not due yet
		{0, 10 * time.Second},                // on time
		{3 * time.Second, 10 * time.Second},  // late within the interval
		{25 * time.Second, 30 * time.Second}, // two ticks missed
		{30 * time.Second, 40 * time.Second}, // exactly on a later tick
	} {
		if got := NextTick(due, due.Add(tc.now), 10*time.Second); !got.Equal(due.Add(tc.want)) {
			t.Errorf("now due%+v: next tick at due%+v, want due%+v", tc.now, got.Sub(due), tc.want)
		}
	}
}

// A delay that went negative while the round ran (time.Until of a deadline
// it passed, on a busy machine) runs the next round at once; it does not
// stop the loop, as it once did for the cert poll under load.
func TestPastDeadlineRunsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		var at []time.Duration
		Start(t.Context(), -time.Second, func(context.Context) (time.Duration, bool) {
			at = append(at, time.Since(start))
			if len(at) == 1 {
				return -time.Millisecond, true
			}
			return time.Hour, len(at) < 3
		})
		time.Sleep(2 * time.Hour)
		synctest.Wait()
		if want := []time.Duration{0, 0, time.Hour}; !slices.Equal(at, want) {
			t.Fatalf("rounds at %v, want %v", at, want)
		}
	})
}
