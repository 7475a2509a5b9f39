package bustest

import (
	"slices"
	"sync"
	"time"

	"periph.io/x/conn/v3/i2c"
)

// Gaps notes when a bus's transfers happen and how long after the one
// before each came. In a synctest bubble a driver's time.Sleep or timer
// moves the fake clock by exactly its duration and a playback takes no
// time, so these gaps are the driver's waits between transfers: a test sees
// both that a wait is long enough and that it lies between the right
// transfers. A bus double calls Note at every transfer; Timed is the one
// for I²C.
type Gaps struct {
	// From, if set, is when the driver started: the gap before the first
	// transfer counts from it, to see a wait before any traffic.
	From time.Time

	mu    sync.Mutex
	last  time.Time
	waits []time.Duration
}

// Note records a transfer now.
func (g *Gaps) Note() {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := time.Now()
	if g.last.IsZero() {
		g.last = g.From
	}
	if !g.last.IsZero() {
		if gap := now.Sub(g.last); gap > 0 {
			g.waits = append(g.waits, gap)
		}
	}
	g.last = now
}

// Waits returns the gaps between transfers that were not zero, in order.
func (g *Gaps) Waits() []time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.waits)
}

// SinceLast is the time since the last transfer: a wait the driver made
// after it, such as the pause that follows a reset.
func (g *Gaps) SinceLast() time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	return time.Since(g.last)
}

// Timed passes every transfer on to Bus and notes its time in Gaps.
type Timed struct {
	i2c.Bus
	Gaps
}

// Tx notes the transfer and replays it.
func (b *Timed) Tx(addr uint16, w, r []byte) error {
	b.Note()
	return b.Bus.Tx(addr, w, r)
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
