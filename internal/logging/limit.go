package logging

import (
	"sync"
	"time"
)

// Limiter lets at most Burst records through per Per, for debug logs of
// every reading: enough to follow a few sensors live, never a flood.
type Limiter struct {
	burst int
	per   time.Duration

	mu    sync.Mutex
	start time.Time
	n     int
	held  int
}

// NewLimiter lets burst events through per period.
func NewLimiter(burst int, per time.Duration) *Limiter {
	return &Limiter{burst: burst, per: per}
}

// Allow reports whether an event at now may be logged, and how many were
// held back since the last one that was, so the record can say so.
func (l *Limiter) Allow(now time.Time) (ok bool, held int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.start) >= l.per {
		l.start, l.n = now, 0
	}
	if l.n >= l.burst {
		l.held++
		return false, 0
	}
	l.n++
	held, l.held = l.held, 0
	return true, held
}
