package pause

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestForWaitsTheWholeDuration(t *testing.T) {
	const d = 20 * time.Millisecond
	start := time.Now()
	if err := For(context.Background(), d); err != nil {
		t.Fatalf("For = %v, want nil", err)
	}
	if waited := time.Since(start); waited < d {
		t.Errorf("returned after %v, before the %v were up", waited, d)
	}
}

func TestForStopsWhenContextIsDone(t *testing.T) {
	t.Run("cancelled before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := For(ctx, time.Hour); !errors.Is(err, context.Canceled) {
			t.Fatalf("For = %v, want context.Canceled", err)
		}
	})
	t.Run("cancelled while waiting", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- For(ctx, time.Hour) }()
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("For = %v, want context.Canceled", err)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		defer cancel()
		if err := For(ctx, time.Hour); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("For = %v, want context.DeadlineExceeded", err)
		}
	})
}
