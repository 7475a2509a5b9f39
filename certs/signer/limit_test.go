package signer

import (
	"testing"
	"time"
)

// Each device has its own bucket: a burst, then one request per interval.
func TestLimiter(t *testing.T) {
	l := newLimiter(3, time.Hour)
	t0 := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	for i := range 3 {
		if !l.allow("Kai", t0) {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	if l.allow("Kai", t0.Add(59*time.Minute)) {
		t.Error("a fourth request within the hour was allowed")
	}
	if !l.allow("Bob", t0) {
		t.Error("Bob was limited by Kai's requests")
	}
	if !l.allow("Kai", t0.Add(61*time.Minute)) {
		t.Error("no request allowed after an hour")
	}
	if l.allow("Kai", t0.Add(62*time.Minute)) {
		t.Error("two requests allowed after an hour")
	}
}
