package certs

import (
	"context"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgepub/edgepub/internal/testutil"
	"github.com/edgepub/edgepub/internal/tutorialpki"
)

// TestWatchPollAlone runs the watch loop without change events, as when
// inotify is unavailable, so only the periodic comparison can notice.
func TestWatchPollAlone(t *testing.T) {
	t.Parallel()
	seed := tutorialpki.New(t, t.TempDir(), tutorialpki.Opts{Clients: []string{"Kai"}})
	dir := seed.DeviceDir(t, "Kai")
	now := time.Now().Add(time.Hour) // after the NotBefore of the certificate issued below
	issue := func() []byte {
		seed.Issue(t, "Kai", "Kai", 825)
		for _, f := range []string{"Kai.crt", "Kai.key"} {
			tutorialpki.CopyFile(t, seed.File(f), filepath.Join(dir, f), 0o600)
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
	started := make(chan struct{})
	w := &dirWatch{source: src, opts: watchOpts{Debounce: 10 * time.Millisecond, Poll: 30 * time.Millisecond,
		Now: func() time.Time { return now }, Started: func() { close(started) }}}
	done := make(chan error, 1)
	go func() { done <- w.run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()

	<-started
	block, _ := pem.Decode(issue())
	want := string(block.Bytes)
	testutil.Eventually(t, 10*time.Second, "the poll picked up the new certificate", func() bool {
		return string(src.Current().Leaf().Raw) == want
	})
}
