package conversion

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
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

// awaitTook runs g.Await and returns how long it took on the bubble's clock.
func awaitTook(ctx context.Context, g *Gate, wake func() error) (time.Duration, error) {
	start := time.Now()
	err := g.Await(ctx, wake)
	return time.Since(start), err
}

func TestFirstAwaitWaitsOneConversion(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGate(35 * time.Millisecond)
		var w wakes
		var took []time.Duration
		for range 3 {
			d, err := awaitTook(context.Background(), &g, w.wake)
			if err != nil {
				t.Fatalf("Await: %v", err)
			}
			took = append(took, d)
		}
		if want := []time.Duration{35 * time.Millisecond, 0, 0}; !slices.Equal(took, want) {
			t.Errorf("Awaits took %v, want %v: one 35ms conversion before the first read only", took, want)
		}
		if w.n != 0 {
			t.Errorf("woke a sensor that was never halted %d times", w.n)
		}
	})
}

func TestAwaitAfterHaltWakesAndWaitsAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGate(250 * time.Millisecond)
		var w wakes
		var took []time.Duration
		d, err := awaitTook(context.Background(), &g, w.wake)
		if err != nil {
			t.Fatalf("Await: %v", err)
		}
		took = append(took, d)
		g.MarkHalted()
		for range 2 {
			d, err := awaitTook(context.Background(), &g, w.wake)
			if err != nil {
				t.Fatalf("Await after halt: %v", err)
			}
			took = append(took, d)
		}
		if w.n != 1 {
			t.Errorf("woke %d times, want once after the halt", w.n)
		}
		if want := []time.Duration{250 * time.Millisecond, 250 * time.Millisecond, 0}; !slices.Equal(took, want) {
			t.Errorf("Awaits took %v, want %v: one conversion after power-up and one after the wake-up", took, want)
		}
	})
}

func TestAwaitCutShortWaitsAgainNextTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGate(250 * time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		took, err := awaitTook(ctx, &g, (&wakes{}).wake)
		if !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "wait for first conversion: ") {
			t.Fatalf("Await = %v, want context.DeadlineExceeded as a conversion wait", err)
		}
		if took != 100*time.Millisecond {
			t.Errorf("the cut-short Await took %v, want 100ms: until the deadline", took)
		}
		if took, err = awaitTook(context.Background(), &g, (&wakes{}).wake); err != nil {
			t.Fatalf("Await: %v", err)
		}
		if took != 250*time.Millisecond {
			t.Errorf("the next Await took %v, want a full 250ms conversion", took)
		}
	})
}

func TestAwaitReportsAFailedWakeUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		errNACK := errors.New("remote I/O error")
		g := NewGate(35 * time.Millisecond)
		g.MarkHalted()
		w := &wakes{err: errNACK}
		took, err := awaitTook(context.Background(), &g, w.wake)
		if !errors.Is(err, errNACK) || !strings.HasPrefix(err.Error(), "wake up: ") {
			t.Fatalf("Await = %v, want the NACK as a wake-up failure", err)
		}
		if took != 0 {
			t.Errorf("waited %v for a sensor that did not wake", took)
		}
		// Still halted: the next Await tries to wake it again.
		w.err = nil
		if took, err = awaitTook(context.Background(), &g, w.wake); err != nil {
			t.Fatalf("Await: %v", err)
		}
		if w.n != 2 {
			t.Errorf("woke %d times, want a second try", w.n)
		}
		if took != 35*time.Millisecond {
			t.Errorf("the Await that woke the sensor took %v, want one 35ms conversion", took)
		}
	})
}
