package signer

import (
	"sync"
	"time"
)

// limiter is a token bucket per device: burst requests at once, then one
// per every. Idle devices are forgotten once their bucket is full again.
type limiter struct {
	burst int
	every time.Duration

	mu      sync.Mutex
	buckets map[string]bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newLimiter(burst int, every time.Duration) *limiter {
	return &limiter{burst: burst, every: every, buckets: map[string]bucket{}}
}

func (l *limiter) allow(device string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[device]
	if !ok {
		b = bucket{tokens: float64(l.burst), at: now}
	}
	b.tokens = min(float64(l.burst), b.tokens+float64(now.Sub(b.at))/float64(l.every))
	b.at = now
	if b.tokens < 1 {
		l.buckets[device] = b
		return false
	}
	b.tokens--
	l.buckets[device] = b
	for d, x := range l.buckets {
		if x.tokens+float64(now.Sub(x.at))/float64(l.every) >= float64(l.burst) && d != device {
			delete(l.buckets, d)
		}
	}
	return true
}
