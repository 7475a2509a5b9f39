// Package periodic runs a periodic job on a timer's callbacks: between two
// rounds only the timer waits, not a parked goroutine with its stack. A
// daemon has several such loops, and the fleet benchmark thousands of
// daemons in one process, where each parked goroutine costs 4–8 KiB.
package periodic

import (
	"context"
	"math"
	"sync"
	"time"
)

// Job does one round of work and returns the delay until the next round,
// or again false when no further round is needed. Rounds never overlap.
type Job func(ctx context.Context) (next time.Duration, again bool)

// WaitForReset, as a delay, arms no timer: the next round comes with Reset.
// Any other negative delay, such as time.Until of a deadline that passed
// while the round ran, means at once.
const WaitForReset time.Duration = math.MinInt64

// Loop is a started job; see Start.
type Loop struct {
	ctx  context.Context
	job  Job
	done chan struct{}

	mu      sync.Mutex
	timer   *time.Timer
	running bool // a round is in progress
	// reset is a Reset during the running round, if resetDuring.
	reset       time.Duration
	resetDuring bool
	ended       bool
	stopCtx     func() bool
}

// Start runs job after first (WaitForReset: at the first Reset), then
// again after each delay it returns, each round on a goroutine of its own
// that ends with the round. After ctx is done no round starts; a running
// round sees ctx done and should return soon.
func Start(ctx context.Context, first time.Duration, job Job) *Loop {
	l := &Loop{ctx: ctx, job: job, done: make(chan struct{})}
	l.mu.Lock()
	defer l.mu.Unlock()
	if first == WaitForReset {
		l.timer = time.AfterFunc(math.MaxInt64, l.round)
		l.timer.Stop()
	} else {
		l.timer = time.AfterFunc(max(first, 0), l.round)
	}
	l.stopCtx = context.AfterFunc(ctx, l.cancel)
	return l
}

// NextTick returns the next tick after now of a ticker that ticks every
// interval from due: due itself while it lies ahead, else the first tick
// after now. Like time.Ticker, a late round skips the ticks it missed
// instead of running them in a burst, and the phase stays.
func NextTick(due, now time.Time, every time.Duration) time.Time {
	if now.Before(due) {
		return due
	}
	return due.Add((now.Sub(due)/every + 1) * every)
}

// Done is closed once the loop has ended (ctx done, or the job said no
// further round) and no round runs.
func (l *Loop) Done() <-chan struct{} { return l.done }

// Wait blocks until Done is closed.
func (l *Loop) Wait() { <-l.done }

// Reset moves the next round to d from now. While a round runs, the next
// round comes after the sooner of d and the delay the round returns,
// counted from the round's end.
func (l *Loop) Reset(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.ended:
	case l.running:
		if !l.resetDuring || d < l.reset {
			l.reset, l.resetDuring = d, true
		}
	default:
		l.timer.Reset(max(d, 0))
	}
}

func (l *Loop) round() {
	l.mu.Lock()
	if l.ended || l.running || l.ctx.Err() != nil {
		// cancel ends the loop; a running round sets the next.
		l.mu.Unlock()
		return
	}
	l.running = true
	l.mu.Unlock()

	next, again := l.job(l.ctx)

	l.mu.Lock()
	defer l.mu.Unlock()
	l.running = false
	if !again || l.ctx.Err() != nil {
		l.endLocked()
		return
	}
	if l.resetDuring {
		if next == WaitForReset || l.reset < next {
			next = l.reset
		}
		l.resetDuring = false
	}
	if next != WaitForReset {
		l.timer.Reset(max(next, 0))
	}
}

// cancel runs when ctx is done: the loop ends now, or when the running
// round returns.
func (l *Loop) cancel() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.timer.Stop()
	if !l.running {
		l.endLocked()
	}
}

func (l *Loop) endLocked() {
	if l.ended {
		return
	}
	l.ended = true
	l.timer.Stop()
	l.stopCtx()
	close(l.done)
}
