package bustest

import (
	"slices"
	"sync"
	"time"

	"periph.io/x/conn/v3/i2c"
)

// Timed passes every transfer on to Bus and notes how long after the one
// before it came. In a synctest bubble a driver's time.Sleep or timer moves
// the fake clock by exactly its duration and a playback takes no time, so
// these gaps are the driver's waits between transfers: a test sees both that
// a wait is long enough and that it lies between the right transfers.
type Timed struct {
	i2c.Bus
	// From, if set, is when the driver started: the gap before the first
	// transfer counts from it, to see a wait before any traffic.
	From time.Time

	mu    sync.Mutex
	last  time.Time
	waits []time.Duration
}

// Tx notes the gap since the previous transfer, if any, and replays.
func (b *Timed) Tx(addr uint16, w, r []byte) error {
	b.mu.Lock()
	now := time.Now()
	if b.last.IsZero() {
		b.last = b.From
	}
	if !b.last.IsZero() {
		if gap := now.Sub(b.last); gap > 0 {
			b.waits = append(b.waits, gap)
		}
	}
	b.last = now
	b.mu.Unlock()
	return b.Bus.Tx(addr, w, r)
}

// Waits returns the gaps between transfers that were not zero, in order.
func (b *Timed) Waits() []time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.waits)
}

// SinceLast is the time since the last transfer: a wait the driver made
// after it, such as the pause that follows a reset.
func (b *Timed) SinceLast() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return time.Since(b.last)
}

// Holding passes transfers on to Bus but stops in transfer number At
// (counting from 0), once it is done: it closes Held and returns only when
// Release is closed. It holds a driver in the middle of a command, with the
// chip working, to show what a second caller can do meanwhile. A test
// with a read held is not run in a synctest bubble: a second caller waiting
// on the driver's lock is not durably blocked, so the clock would stand still.
type Holding struct {
	i2c.Bus
	At            int
	Held, Release chan struct{}

	mu sync.Mutex
	n  int
}

// Tx replays, and holds if this is transfer At.
func (b *Holding) Tx(addr uint16, w, r []byte) error {
	err := b.Bus.Tx(addr, w, r)
	b.mu.Lock()
	hold := b.n == b.At
	b.n++
	b.mu.Unlock()
	if hold {
		close(b.Held)
		<-b.Release
	}
	return err
}
