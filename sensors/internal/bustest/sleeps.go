package bustest

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Sleeps stands in for a driver's Opts.Sleep: it records what the driver
// asked to wait instead of waiting, and returns ctx.Err() so a done context
// still ends the driver's read. The zero Sleeps is ready to use.
type Sleeps struct {
	// Before, if set, runs inside every Sleep before it returns: to cancel
	// the caller's context, or to hold a read in its wait. Set it while no
	// Sleep runs.
	Before func()

	mu    sync.Mutex
	waits []time.Duration
}

// Sleep records d, runs Before and returns ctx.Err().
func (s *Sleeps) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	before := s.Before
	s.mu.Unlock()
	if before != nil {
		before()
	}
	return ctx.Err()
}

// Waits returns the durations asked for so far, in order.
func (s *Sleeps) Waits() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.waits)
}
