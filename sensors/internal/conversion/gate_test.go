package conversion

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgepub/edgepub/sensors/internal/bustest"
)

// wakes counts the calls of a wake function that returns err.
type wakes struct {
	n   int
	err error
}

func (w *wakes) wake() error {
	w.n++
	return w.err
}

func TestFirstAwaitWaitsOneConversion(t *testing.T) {
	var sleeps bustest.Sleeps
	g := NewGate(35*time.Millisecond, sleeps.Sleep)
	var w wakes
	for range 3 {
		if err := g.Await(context.Background(), w.wake); err != nil {
			t.Fatalf("Await: %v", err)
		}
	}
	if !slices.Equal(sleeps.Waits(), []time.Duration{35 * time.Millisecond}) {
		t.Errorf("waited %v, want one 35ms conversion before the first read only", sleeps.Waits())
	}
	if w.n != 0 {
		t.Errorf("woke a sensor that was never halted %d times", w.n)
	}
}

func TestAwaitAfterHaltWakesAndWaitsAgain(t *testing.T) {
	var sleeps bustest.Sleeps
	g := NewGate(250*time.Millisecond, sleeps.Sleep)
	var w wakes
	if err := g.Await(context.Background(), w.wake); err != nil {
		t.Fatalf("Await: %v", err)
	}
	g.MarkHalted()
	for range 2 {
		if err := g.Await(context.Background(), w.wake); err != nil {
			t.Fatalf("Await after halt: %v", err)
		}
	}
	if w.n != 1 {
		t.Errorf("woke %d times, want once after the halt", w.n)
	}
	if len(sleeps.Waits()) != 2 {
		t.Errorf("waited %v, want one conversion after power-up and one after the wake-up", sleeps.Waits())
	}
}

func TestAwaitCutShortWaitsAgainNextTime(t *testing.T) {
	sleeps := &bustest.Sleeps{}
	g := NewGate(250*time.Millisecond, sleeps.Sleep)
	ctx, cancel := context.WithCancel(context.Background())
	sleeps.Before = cancel
	err := g.Await(ctx, (&wakes{}).wake)
	if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "wait for first conversion: ") {
		t.Fatalf("Await = %v, want context.Canceled as a conversion wait", err)
	}
	sleeps.Before = nil
	if err := g.Await(context.Background(), (&wakes{}).wake); err != nil {
		t.Fatalf("Await: %v", err)
	}
	if len(sleeps.Waits()) != 2 {
		t.Errorf("waited %v, want the interrupted wait and a full one", sleeps.Waits())
	}
}

func TestAwaitReportsAFailedWakeUp(t *testing.T) {
	errNACK := errors.New("remote I/O error")
	var sleeps bustest.Sleeps
	g := NewGate(35*time.Millisecond, sleeps.Sleep)
	g.MarkHalted()
	w := &wakes{err: errNACK}
	err := g.Await(context.Background(), w.wake)
	if !errors.Is(err, errNACK) || !strings.HasPrefix(err.Error(), "wake up: ") {
		t.Fatalf("Await = %v, want the NACK as a wake-up failure", err)
	}
	if len(sleeps.Waits()) != 0 {
		t.Errorf("waited %v for a sensor that did not wake", sleeps.Waits())
	}
	// Still halted: the next Await tries to wake it again.
	w.err = nil
	if err := g.Await(context.Background(), w.wake); err != nil {
		t.Fatalf("Await: %v", err)
	}
	if w.n != 2 {
		t.Errorf("woke %d times, want a second try", w.n)
	}
}
