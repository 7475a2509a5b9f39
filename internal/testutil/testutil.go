// Package testutil holds what edgepub's tests share: a buffer that loggers
// on several goroutines can write to, a bounded poll for a condition, and a
// count of the process's inotify instances.
// Tests wait on conditions, never on fixed sleeps; Eventually is the one
// place that polls.
package testutil

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Buffer is a bytes.Buffer that is safe for concurrent writers, e.g. a
// logger shared by the goroutines under test.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// pollEvery is how often Eventually checks; the bound guards against hangs
// and is no performance target.
const pollEvery = 20 * time.Millisecond

// Eventually waits until cond holds and fails the test, naming what, if it
// does not within timeout.
func Eventually(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(pollEvery)
	}
}

// WantOneLineError fails the test unless err is one line that mentions
// every word, case-insensitively: edgepub's errors name the thing and the
// fix in one line.
func WantOneLineError(tb testing.TB, err error, words ...string) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("no error, want one mentioning %q", words)
	}
	msg := strings.ToLower(err.Error())
	for _, w := range words {
		if !strings.Contains(msg, strings.ToLower(w)) {
			tb.Errorf("error %q does not mention %q", err, w)
		}
	}
	if strings.Contains(err.Error(), "\n") {
		tb.Errorf("error spans several lines: %q", err)
	}
}

// InotifyInstances counts this process's open inotify instances, to see
// that code which promised to poll did not watch. Without /proc it skips.
func InotifyInstances(t testing.TB) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	n := 0
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && target == "anon_inode:inotify" {
			n++
		}
	}
	return n
}

// Closed reports, without waiting, whether ch is closed: e.g. a loop's
// Done after its ctx was cancelled and a synctest bubble settled.
func Closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
