package publisher

import (
	"strings"
	"testing"
	"time"
)

// A broker that refuses every attempt the same way is logged once, then as
// "still failing" once a minute; another error is logged at once.
func TestFailureLogRateLimits(t *testing.T) {
	var f failureLog
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	refused := "dial tcp 127.0.0.1:8883: connect: connection refused"
	var logged []string
	// Backoff grows to 2 minutes, but at first attempts come every few seconds.
	for s := 0; s < 150; s += 5 {
		if msg, ok := f.message(refused, t0.Add(time.Duration(s)*time.Second)); ok {
			logged = append(logged, msg)
		}
	}
	if msg, ok := f.message("tls: bad certificate", t0.Add(151*time.Second)); ok {
		logged = append(logged, msg)
	}
	want := []string{
		"cannot connect to broker; retrying",
		"cannot connect to broker: still failing (13 attempts, last error: " + refused + ")",
		"cannot connect to broker: still failing (25 attempts, last error: " + refused + ")",
		"cannot connect to broker; retrying",
	}
	if strings.Join(logged, "\n") != strings.Join(want, "\n") {
		t.Errorf("logged:\n%s\nwant:\n%s", strings.Join(logged, "\n"), strings.Join(want, "\n"))
	}
}
