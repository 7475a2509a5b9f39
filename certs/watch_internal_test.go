package certs

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestWatchPollAlone runs the watch loop without change events, as when
// inotify is unavailable, so only the periodic comparison can notice.
func TestWatchPollAlone(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	ca, err := NewCA("MQTT-CA", KeyECDSAP256, now)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	issue := func() []byte {
		c, k, err := ca.IssueClient("Kai", now)
		if err != nil {
			t.Fatal(err)
		}
		write("Kai.crt", c)
		write("Kai.key", k)
		return c
	}
	write("ca.crt", ca.CertPEM())
	issue()
	b, err := Load(dir, Names{}, now)
	if err != nil {
		t.Fatal(err)
	}
	src := NewSource(dir, Names{}, b, nil)
	ctx, cancel := context.WithCancel(context.Background())
	// NewWatch without its inotify watcher: what it records before Run is
	// the state the poll compares against.
	w := &Watch{source: src, opts: WatchOpts{Debounce: 10 * time.Millisecond, Poll: 30 * time.Millisecond, Now: func() time.Time { return now }}, resolved: map[string]string{}}
	w.sync()
	w.state = w.fileState()
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()

	certPEM := issue()
	want := string(certPEM)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if string(encodeCert(src.Current().Leaf().Raw)) == want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the poll did not pick up the new certificate")
}
