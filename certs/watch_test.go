package certs_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgepub/edgepub/certs"
	"github.com/edgepub/edgepub/certs/pki"
	"github.com/edgepub/edgepub/internal/testutil"
)

// startWatch runs WatchWith on src until the test ends. Polling is off so
// that only change events can trigger a reload.
func startWatch(t *testing.T, src *certs.Source) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		done <- src.WatchWith(ctx, certs.WatchOpts{Debounce: 100 * time.Millisecond, Poll: -1, Now: func() time.Time { return t0 },
			Started: func() { close(started) }})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Watch: %v", err)
		}
	})
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("Watch ended before watching: %v", err)
	}
}

// waitForSerial waits (bounded) until src presents the certificate certPEM.
func waitForSerial(t *testing.T, src *certs.Source, certPEM []byte) {
	t.Helper()
	want := parseCertPEM(t, certPEM).SerialNumber.String()
	testutil.Eventually(t, 10*time.Second, "the new certificate with serial "+want+" picked up", func() bool {
		return src.Current().Leaf().SerialNumber.String() == want
	})
}

func TestWatchAtomicRename(t *testing.T) {
	t.Parallel()
	r := newRotation(t)
	startWatch(t, r.src)
	c, k := issueClient(t, r.ca, "Kai")
	writeFile(t, r.file(".Kai.crt.new"), c, 0o644)
	writeFile(t, r.file(".Kai.key.new"), k, 0o600)
	if err := os.Rename(r.file(".Kai.crt.new"), r.file("Kai.crt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(r.file(".Kai.key.new"), r.file("Kai.key")); err != nil {
		t.Fatal(err)
	}
	waitForSerial(t, r.src, c)
}

func TestWatchCertThenKey(t *testing.T) {
	t.Parallel()
	for _, gap := range []time.Duration{20 * time.Millisecond, 400 * time.Millisecond} {
		t.Run(gap.String(), func(t *testing.T) {
			t.Parallel()
			r := newRotation(t)
			startWatch(t, r.src)
			c, k := issueClient(t, r.ca, "Kai")
			writeFile(t, r.file("Kai.crt"), c, 0o644) // written in place
			time.Sleep(gap)                           // longer than the debounce: one failed reload first
			writeFile(t, r.file("Kai.key"), k, 0o600)
			waitForSerial(t, r.src, c)
		})
	}
}

// TestWatchKubernetesSecret mimics how kubelet (and similar tools) update a
// mounted secret: the files are symlinks through ..data, and ..data is
// swapped to a new timestamped folder by rename.
func TestWatchKubernetesSecret(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "MQTT-CA", pki.KeyECDSAP256)
	dir := t.TempDir()
	version := func(name string, certPEM, keyPEM []byte) {
		v := filepath.Join(dir, name)
		if err := os.Mkdir(v, 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(v, "ca.crt"), ca.CertPEM(), 0o644)
		writeFile(t, filepath.Join(v, "tls.crt"), certPEM, 0o644)
		writeFile(t, filepath.Join(v, "tls.key"), keyPEM, 0o600)
		if err := os.Symlink(name, filepath.Join(dir, "..data_tmp")); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	c1, k1 := issueClient(t, ca, "Kai")
	version("..2026_11_26_1", c1, k1)
	for _, f := range []string{"ca.crt", "tls.crt", "tls.key"} {
		if err := os.Symlink(filepath.Join("..data", f), filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	b, err := certs.Load(dir, certs.Names{}, t0)
	if err != nil {
		t.Fatal(err)
	}
	src := certs.NewSource(dir, certs.Names{}, b, nil)
	startWatch(t, src)

	c2, k2 := issueClient(t, ca, "Kai")
	version("..2026_11_26_2", c2, k2)
	if err := os.RemoveAll(filepath.Join(dir, "..2026_11_26_1")); err != nil {
		t.Fatal(err)
	}
	waitForSerial(t, src, c2)
}

// TestWatchRepointedDirectoryLink: the configured folder is a symlink that
// a deploy tool points at a new release folder.
func TestWatchRepointedDirectoryLink(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "MQTT-CA", pki.KeyECDSAP256)
	base := t.TempDir()
	release := func(name string) []byte {
		c, k := issueClient(t, ca, "Kai")
		d := filepath.Join(base, name)
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(d, "ca.crt"), ca.CertPEM(), 0o644)
		writeFile(t, filepath.Join(d, "Kai.crt"), c, 0o644)
		writeFile(t, filepath.Join(d, "Kai.key"), k, 0o600)
		return c
	}
	release("v1")
	link := filepath.Join(base, "current")
	if err := os.Symlink("v1", link); err != nil {
		t.Fatal(err)
	}
	b, err := certs.Load(link, certs.Names{}, t0)
	if err != nil {
		t.Fatal(err)
	}
	src := certs.NewSource(link, certs.Names{}, b, nil)
	startWatch(t, src)

	c2 := release("v2")
	if err := os.Symlink("v2", filepath.Join(base, "current.tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(base, "current.tmp"), link); err != nil {
		t.Fatal(err)
	}
	waitForSerial(t, src, c2)

	// The watch must now follow v2, not the old v1.
	c3, k3 := issueClient(t, ca, "Kai")
	writeFile(t, filepath.Join(base, "v2", "Kai.crt"), c3, 0o644)
	writeFile(t, filepath.Join(base, "v2", "Kai.key"), k3, 0o600)
	waitForSerial(t, src, c3)
}

// TestPollWithoutInotify checks that Poll picks up a replaced certificate
// and opens no inotify instance, so thousands of daemons in one process
// stay within fs.inotify.max_user_instances; polled ten times per
// debounce, unchanged new files must still be reloaded. Not parallel: the
// parallel watch tests open inotify instances of their own.
func TestPollWithoutInotify(t *testing.T) {
	before := testutil.InotifyInstances(t)
	r := newRotation(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		done <- r.src.PollWith(ctx, certs.WatchOpts{Debounce: 200 * time.Millisecond, Poll: 20 * time.Millisecond,
			Now: func() time.Time { return t0 }, Started: func() { close(started) }})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Poll: %v", err)
		}
	})
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("Poll ended before watching: %v", err)
	}
	c, k := issueClient(t, r.ca, "Kai")
	writeFile(t, r.file("Kai.key"), k, 0o600)
	writeFile(t, r.file("Kai.crt"), c, 0o644)
	waitForSerial(t, r.src, c)
	if n := testutil.InotifyInstances(t); n != before {
		t.Errorf("%d inotify instances while polling, %d before: Poll must not use inotify", n, before)
	}
}

func TestPollRefusesZeroInterval(t *testing.T) {
	t.Parallel()
	r := newRotation(t)
	if err := r.src.Poll(context.Background(), time.Now, 0); err == nil {
		t.Error("Poll with interval 0 returned nil; want an error naming the interval")
	}
}
