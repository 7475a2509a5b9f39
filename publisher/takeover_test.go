package publisher

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/edgepub/edgepub/internal/logging"
	"github.com/edgepub/edgepub/internal/mosquittotest"
	"github.com/edgepub/edgepub/internal/testutil"
)

// waitFor waits for cond, as the tests of this package do with a real
// broker on a busy machine.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, 30*time.Second, what, cond)
}

func TestTakeoverWatch(t *testing.T) {
	eof := fmt.Errorf("read: %w", io.EOF)
	var w takeoverWatch
	steps := []struct {
		lived time.Duration
		err   error
		want  bool
	}{
		{time.Second, eof, false},
		{2 * time.Second, eof, false},
		{time.Second, eof, true},  // third in a row
		{time.Second, eof, false}, // reported once per episode
		{time.Minute, eof, false}, // a connection that lasted ends the episode
		{time.Second, eof, false},
		{time.Second, errors.New("i/o timeout"), false}, // a network error ends it too
		{time.Second, eof, false},
		{time.Second, eof, false},
		{time.Second, eof, true},
	}
	for i, s := range steps {
		if got := w.lost(s.lived, s.err); got != s.want {
			t.Errorf("step %d (%v, %v): reported %v, want %v", i, s.lived, s.err, got, s.want)
		}
	}
}

// Two edgepubs with one certificate (a cloned SD card) against the seed's
// Mosquitto take the connection from each other; each says so once, with
// its message id, and counts it.
func TestTwoClientsWithOneIdentityAreNamed(t *testing.T) {
	pki := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
	broker := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki})
	var pubs []*Publisher
	var logs []*testutil.Buffer
	for range 2 {
		src := loadSource(t, pki.DeviceDir(t, "Kai"))
		buf := &testutil.Buffer{}
		o := testOpts(t, broker.URL(), src)
		o.Logger = slog.New(slog.NewJSONHandler(buf, nil))
		p := New(newMemQueue(), o)
		defer start(t, p)()
		pubs, logs = append(pubs, p), append(logs, buf)
	}
	waitFor(t, "an identity conflict reported", func() bool {
		return pubs[0].Status().IdentityConflicts > 0 || pubs[1].Status().IdentityConflicts > 0
	})
	for i, p := range pubs {
		if p.Status().IdentityConflicts == 0 {
			continue
		}
		out := logs[i].String()
		if n := strings.Count(out, logging.MsgIdentityInUse); n != 1 {
			t.Errorf("publisher %d logged the conflict %d times, want once:\n%s", i, n, out)
		}
		if !strings.Contains(out, `"level":"ERROR","msg":"another client uses this device's identity`) || !strings.Contains(out, "use_username_as_clientid") {
			t.Errorf("publisher %d log lacks the error:\n%s", i, out)
		}
	}
}

// With use_username_as_clientid, a client with another certificate that
// sends Kai's client id gets its own CN as client id and no longer cuts
// Kai's connection; without it, it does (so the test can tell).
func TestUseUsernameAsClientIDProtectsKai(t *testing.T) {
	for _, protect := range []bool{false, true} {
		t.Run(fmt.Sprintf("use_username_as_clientid=%v", protect), func(t *testing.T) {
			pki := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai", "Eve")
			opts := mosquittotest.Opts{PKI: pki}
			if protect {
				opts.Extra = []string{"use_username_as_clientid true"}
			}
			broker := mosquittotest.Start(t, opts)
			p := New(newMemQueue(), testOpts(t, broker.URL(), loadSource(t, pki.DeviceDir(t, "Kai"))))
			defer start(t, p)()
			waitFor(t, "Kai connected", func() bool { return p.Status().Connected })
			since := p.Status().Since
			for range 3 {
				// Unprotected, Kai takes the id back and may cut Eve off first.
				if out, err := broker.Publish(t, "Eve", "Eve/x", "hello", "-i", "Kai"); err != nil && protect {
					t.Fatalf("mosquitto_pub as Eve: %v\n%s", err, out)
				}
			}
			// Mosquitto logs every connection it accepts; once Eve's third
			// is in the log any takeover of Kai has happened.
			waitFor(t, "Eve's connections in the broker log", func() bool {
				return strings.Count(broker.Log(), "u'Eve'") >= 3
			})
			kicked := func() bool { return p.Status().Reconnects > 0 || !p.Status().Since.Equal(since) }
			if !protect {
				waitFor(t, "Kai's connection cut by Eve", kicked)
				return
			}
			if kicked() {
				t.Errorf("Kai's connection was cut (status %+v)\nbroker log:\n%s", p.Status(), broker.Log())
			}
		})
	}
}
