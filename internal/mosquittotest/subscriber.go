package mosquittotest

import (
	"bufio"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgepub/edgepub/internal/testutil"
	"github.com/edgepub/edgepub/internal/tutorialpki"
)

// Message is what the subscriber received.
type Message struct {
	Topic    string
	Payload  string
	Retained bool
}

// Subscriber is a real mosquitto_sub process logged in as the monitor
// identity, with QoS 1 and, if asked, a persistent session so that it keeps
// everything across broker restarts.
type Subscriber struct {
	t      testing.TB
	broker *Broker
	cmd    *exec.Cmd
	done   chan struct{}
	syncs  int
	stderr *testutil.Buffer

	mu   sync.Mutex
	msgs []Message
}

// SubOpts configures a subscriber.
type SubOpts struct {
	// Persistent keeps the session (clean session off) so messages queued
	// while the subscriber was away are delivered when it is back.
	Persistent bool
	// ClientID defaults to "monitor-<port>".
	ClientID string
}

// Subscribe starts mosquitto_sub on filter and returns once the
// subscription is live (a probe message went through).
func (b *Broker) Subscribe(t testing.TB, filter string, o SubOpts) *Subscriber {
	t.Helper()
	id := o.ClientID
	if id == "" {
		id = "monitor-" + strconv.Itoa(b.port)
	}
	pki := b.pki()
	args := []string{
		"-h", b.host, "-p", strconv.Itoa(b.port),
		"--cafile", pki.File("ca.crt"), "--cert", pki.File("monitor.crt"), "--key", pki.File("monitor.key"),
		"-q", "1", "-i", id, "-t", filter, "-t", "monitor/ready",
		"-F", "%r %t %p",
	}
	if o.Persistent {
		args = append(args, "-c")
	}
	cmd := b.command("mosquitto_sub", args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &testutil.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start mosquitto_sub (apt-get install -y mosquitto-clients): %v", err)
	}
	s := &Subscriber{t: t, broker: b, cmd: cmd, done: make(chan struct{}), stderr: stderr}
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			retained, rest, _ := strings.Cut(sc.Text(), " ")
			topic, payload, _ := strings.Cut(rest, " ")
			s.mu.Lock()
			s.msgs = append(s.msgs, Message{Topic: topic, Payload: payload, Retained: retained == "1"})
			s.mu.Unlock()
		}
	}()
	t.Cleanup(s.Stop)
	// A probe proves the subscription is in place before the test publishes.
	deadline := time.Now().Add(10 * time.Second)
	for n := 0; ; n++ {
		b.Publish(t, "monitor", "monitor/ready", fmt.Sprint(n))
		if len(s.Matching(func(m Message) bool { return m.Topic == "monitor/ready" })) > 0 {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("subscriber did not come up: %s\nbroker log:\n%s", stderr.String(), b.Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (b *Broker) pki() *tutorialpki.PKI { return b.pkiRef }

// Publish sends one QoS 1 message with mosquitto_pub as the given client
// identity (a CN of the PKI) and returns its combined output and error.
func (b *Broker) Publish(t testing.TB, identity, topic, payload string, extra ...string) (string, error) {
	t.Helper()
	pki := b.pki()
	args := append([]string{
		"-h", b.host, "-p", strconv.Itoa(b.port),
		"--cafile", pki.File("ca.crt"), "--cert", pki.File(identity + ".crt"), "--key", pki.File(identity + ".key"),
		"-q", "1", "-t", topic, "-m", payload,
	}, extra...)
	out, err := b.command("mosquitto_pub", args...).CombinedOutput()
	return string(out), err
}

// Messages returns a copy of everything received so far, probes excluded.
func (s *Subscriber) Messages() []Message {
	return s.Matching(func(m Message) bool { return m.Topic != "monitor/ready" })
}

// Matching returns the received messages for which keep is true.
func (s *Subscriber) Matching(keep func(Message) bool) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.msgs {
		if keep(m) {
			out = append(out, m)
		}
	}
	return out
}

// WaitFor polls until done reports true for the messages received so far, or
// fails the test after timeout.
func (s *Subscriber) WaitFor(timeout time.Duration, what string, done func([]Message) bool) []Message {
	s.t.Helper()
	var msgs []Message
	seen := false
	defer func() {
		if !seen {
			s.t.Logf("subscriber: %d messages received; %s", len(msgs), s.Diagnosis())
		}
	}()
	testutil.Eventually(s.t, timeout, "subscriber: "+what, func() bool {
		msgs = s.Messages()
		return done(msgs)
	})
	seen = true
	return msgs
}

// Sync returns once everything the broker routed to this subscriber before
// the call has arrived: it publishes a probe after it and waits for the
// probe, which the broker delivers in order behind them. Tests that assert
// something did not arrive call it instead of waiting a while.
func (s *Subscriber) Sync() {
	s.t.Helper()
	s.syncs++
	probe := fmt.Sprintf("sync-%d", s.syncs)
	if out, err := s.broker.Publish(s.t, "monitor", "monitor/ready", probe); err != nil {
		s.t.Fatalf("publish sync probe: %v: %s", err, out)
	}
	testutil.Eventually(s.t, 10*time.Second, "subscriber: sync probe "+probe+" received", func() bool {
		return len(s.Matching(func(m Message) bool { return m.Topic == "monitor/ready" && m.Payload == probe })) > 0
	})
}

// Stop ends the subscriber.
func (s *Subscriber) Stop() {
	if s.cmd.Process != nil {
		s.cmd.Process.Kill()
	}
	<-s.done
	s.cmd.Wait()
}

// Diagnosis says, for a failed test, whether mosquitto_sub still runs, what
// it wrote to stderr and how the broker's log ends.
func (s *Subscriber) Diagnosis() string {
	running := "running"
	select {
	case <-s.done:
		running = "exited"
	default:
	}
	return fmt.Sprintf("mosquitto_sub %s, its stderr: %q; the broker's log ends:\n%s", running, s.stderr.String(), tail(s.broker.Log(), 40))
}

// tail returns the last n lines of log.
func tail(log string, n int) string {
	lines := strings.Split(strings.TrimRight(log, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
