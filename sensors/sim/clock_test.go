package sim

import (
	"sync"
	"time"
)

// fakeClock is a clock a test moves by hand. It is safe for concurrent use so
// that the race detector judges the sensors, not the test.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// day0 is a Monday midnight in UTC; tests place readings relative to it.
var day0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
