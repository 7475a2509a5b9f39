package certs

import (
	"context"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgepub/edgepub/certs/certstest"
)

// TestWatchPollAlone runs the watch loop without change events, as when
// inotify is unavailable, so only the periodic comparison can notice.
func TestWatchPollAlone(t *testing.T) {
	t.Parallel()
	seed := certstest.NewSeedPKI(t, t.TempDir(), certstest.SeedOpts{Clients: []string{"Kai"}})
	dir := seed.DeviceDir(t, t.TempDir(), "Kai")
	now := time.Now().Add(time.Hour) // after the NotBefore of the certificate issued below
	issue := func() []byte {
		seed.Issue(t, "Kai", "Kai", 825)
		for _, f := range []string{"Kai.crt", "Kai.key"} {
			certstest.CopyFile(t, seed.File(f), filepath.Join(dir, f), 0o600)
		}
		data, err := os.ReadFile(seed.File("Kai.crt"))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	b, err := Load(dir, Names{}, now)
	if err != nil {
		t.Fatal(err)
	}
	src := NewSource(dir, Names{}, b, nil)
	ctx, cancel := context.WithCancel(context.Background())
	// newWatch without its inotify watcher: what it records before run is
	// the state the poll compares against.
	w := &dirWatch{source: src, opts: watchOpts{Debounce: 10 * time.Millisecond, Poll: 30 * time.Millisecond, Now: func() time.Time { return now }}, resolved: map[string]string{}}
	w.sync()
	w.state = w.fileState()
	done := make(chan error, 1)
	go func() { done <- w.run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()

	block, _ := pem.Decode(issue())
	want := string(block.Bytes)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if string(src.Current().Leaf().Raw) == want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the poll did not pick up the new certificate")
}
