package bustest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestSleepsRecordInOrder(t *testing.T) {
	var s Sleeps
	for _, d := range []time.Duration{10 * time.Millisecond, time.Hour} {
		if err := s.Sleep(context.Background(), d); err != nil {
			t.Fatalf("Sleep(%v) = %v", d, err)
		}
	}
	got := s.Waits()
	if want := []time.Duration{10 * time.Millisecond, time.Hour}; !slices.Equal(got, want) {
		t.Errorf("Waits() = %v, want %v", got, want)
	}
	got[0] = 0
	if s.Waits()[0] != 10*time.Millisecond {
		t.Error("changing what Waits returned changed the record")
	}
}

func TestSleepsRunBeforeAndReturnTheContextsError(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s := Sleeps{Before: cancel}
	if err := s.Sleep(ctx, time.Second); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep = %v, want context.Canceled from the cancel in Before", err)
	}
	if len(s.Waits()) != 1 {
		t.Errorf("Waits() = %v, want the cut-short wait recorded", s.Waits())
	}
}

func TestSleepsFromManyGoroutines(t *testing.T) {
	var s Sleeps
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { _ = s.Sleep(context.Background(), time.Millisecond) })
	}
	wg.Wait()
	if n := len(s.Waits()); n != 8 {
		t.Errorf("recorded %d waits, want 8", n)
	}
}
