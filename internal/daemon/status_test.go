package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1204: "1,204", 1234567: "1,234,567", -1204: "-1,204"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestProgressMeter(t *testing.T) {
	var p progressMeter
	if p.madeProgress() {
		t.Error("progress before any tick")
	}
	p.tick()
	if !p.madeProgress() {
		t.Error("no progress after a tick")
	}
	if p.madeProgress() {
		t.Error("progress counted twice for one tick")
	}
}

// statusNotifier counts the status lines the supervisor sends.
type statusNotifier struct {
	nopNotifier
	enabled bool
	lines   atomic.Int64
}

func (n *statusNotifier) Enabled() bool { return n.enabled }
func (n *statusNotifier) Status(string) { n.lines.Add(1) }

// startSupervisor runs a supervisor in the test's bubble until the test
// ends; status counts its wake-ups and blocks while the test holds lock (a
// channel, so that synctest sees the wait), as a deadlocked outbox or
// publisher lock would.
func startSupervisor(t *testing.T, n Notifier, stallAfter time.Duration) (s *supervisor, wakeUps *atomic.Int64, lock chan struct{}) {
	wakeUps, lock = &atomic.Int64{}, make(chan struct{}, 1)
	status := func() string {
		lock <- struct{}{}
		defer func() { <-lock }()
		return fmt.Sprintf("wake-up %d", wakeUps.Add(1))
	}
	s = newSupervisor(status, func() {}, Opts{Notifier: n, StallAfter: stallAfter, Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { s.run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return s, wakeUps, lock
}

// Without a watchdog the main loop wakes only to refresh the status line
// every statusEvery, and not at all outside systemd.
func TestSupervisorWakesOnlyForTheStatusLine(t *testing.T) {
	for _, enabled := range []bool{true, false} {
		t.Run(fmt.Sprintf("systemd listening %v", enabled), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := &statusNotifier{enabled: enabled}
				_, wakeUps, _ := startSupervisor(t, n, 0)
				time.Sleep(time.Minute + statusEvery/2)
				synctest.Wait()
				want := int64(1)
				if enabled {
					want += int64(time.Minute / statusEvery)
				}
				if got := wakeUps.Load(); got != want {
					t.Errorf("systemd listening %v: the main loop woke %d times in %v, want %d", enabled, got, time.Minute+statusEvery/2, want)
				}
				if got := n.lines.Load(); got != want {
					t.Errorf("systemd listening %v: %d status lines, want %d (one per change)", enabled, got, want)
				}
			})
		})
	}
}

// The watchdog pings only while the main loop answers its checks: a loop
// stuck on a lock, or stalled by --debug-stall-after, misses the next ping.
func TestSupervisorAnswersTheWatchdogOnlyWhileItRuns(t *testing.T) {
	const interval = 2500 * time.Millisecond // WatchdogSec=5s, pinged at half of it
	synctest.Test(t, func(t *testing.T) {
		s, wakeUps, lock := startSupervisor(t, &statusNotifier{enabled: true}, 0)
		check := func(want bool, when string) {
			t.Helper()
			time.Sleep(interval)
			synctest.Wait()
			if got := s.alive(); got != want {
				t.Errorf("%s: alive() = %v, want %v", when, got, want)
			}
			synctest.Wait()
		}
		check(true, "after the start")
		check(true, "after a check")
		lock <- struct{}{}
		check(true, "the check before the lock was taken was answered")
		check(false, "the main loop waits for a lock")
		check(false, "still waiting")
		<-lock
		synctest.Wait()
		check(true, "the lock is free again")
		if got, want := wakeUps.Load(), 1+6+int64(6*interval/statusEvery); got > want {
			t.Errorf("the main loop woke %d times in %v, want at most %d (the start, the checks, the status refreshes)", got, 6*interval, want)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		s, _, _ := startSupervisor(t, &statusNotifier{enabled: true}, 3*time.Second)
		time.Sleep(interval)
		if !s.alive() {
			t.Error("alive() = false before the stall")
		}
		time.Sleep(interval)
		synctest.Wait()
		s.alive() // answered or not: the stall came at 3 s, after the check at 2.5 s
		for range 3 {
			time.Sleep(interval)
			synctest.Wait()
			if s.alive() {
				t.Fatal("alive() = true after --debug-stall-after stalled the main loop")
			}
		}
	})
}
