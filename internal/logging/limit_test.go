package logging

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	l := NewLimiter(3, time.Second)
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	var got []int // held counts of the events let through; -1 for held back
	for i := range 10 {
		// Ten events 100 ms apart within one period: three pass, seven
		// are held back; the first of the next period says so.
		ok, held := l.Allow(t0.Add(time.Duration(i) * 100 * time.Millisecond))
		if !ok {
			held = -1
		}
		got = append(got, held)
	}
	want := []int{0, 0, 0, -1, -1, -1, -1, -1, -1, -1}
	if ok, held := l.Allow(t0.Add(1100 * time.Millisecond)); !ok || held != 7 {
		t.Errorf("after the period: %v, %d held; want true, 7", ok, held)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}
