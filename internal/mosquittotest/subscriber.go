package mosquittotest

import (
	"bufio"
	"fmt"
	"io"
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
//
// mosquitto_sub 2.0.11 sometimes exits with "Error: Protocol error" when the
// broker shuts down under it, instead of reconnecting. A persistent
// subscriber is then started again: its session kept what the broker queued
// meanwhile, so nothing is lost, as with a reconnect.
type Subscriber struct {
	t          testing.TB
	broker     *Broker
	args       []string
	persistent bool
	stop       chan struct{}
	done       chan struct{}
	syncs      int
	stderr     *testutil.Buffer

	mu       sync.Mutex
	cmd      *exec.Cmd
	restarts int
	msgs     []Message
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
	s := &Subscriber{t: t, broker: b, args: args, persistent: o.Persistent, stop: make(chan struct{}), done: make(chan struct{}), stderr: &testutil.Buffer{}}
	out, err := s.start()
	if err != nil {
		t.Fatalf("start mosquitto_sub (apt-get install -y mosquitto-clients): %v", err)
	}
	go s.run(out)
	t.Cleanup(s.Stop)
	// A probe proves the subscription is in place before the test publishes.
	deadline := time.Now().Add(10 * time.Second)
	for n := 0; ; n++ {
		b.Publish(t, "monitor", "monitor/ready", fmt.Sprint(n))
		if len(s.Matching(func(m Message) bool { return m.Topic == "monitor/ready" })) > 0 {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("subscriber did not come up: %s\nbroker log:\n%s", s.stderr.String(), b.Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// start starts mosquitto_sub and returns its output.
func (s *Subscriber) start() (io.Reader, error) {
	cmd := s.broker.command("mosquitto_sub", s.args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.cmd = cmd
	s.mu.Unlock()
	select {
	case <-s.stop: // Stop came while it started
		cmd.Process.Kill()
	default:
	}
	return out, nil
}

// run reads mosquitto_sub's output and starts a persistent subscriber
// again when it exits before Stop.
func (s *Subscriber) run(out io.Reader) {
	defer close(s.done)
	for {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			retained, rest, _ := strings.Cut(sc.Text(), " ")
			topic, payload, _ := strings.Cut(rest, " ")
			s.mu.Lock()
			s.msgs = append(s.msgs, Message{Topic: topic, Payload: payload, Retained: retained == "1"})
			s.mu.Unlock()
		}
		s.mu.Lock()
		cmd := s.cmd
		s.mu.Unlock()
		cmd.Wait()
		if !s.persistent {
			return
		}
		// Not at once: while the broker is down mosquitto_sub exits at
		// its first connect.
		select {
		case <-s.stop:
			return
		case <-time.After(100 * time.Millisecond):
		}
		var err error
		if out, err = s.start(); err != nil {
			fmt.Fprintf(s.stderr, "edgepub test harness: cannot start mosquitto_sub again: %v\n", err)
			return
		}
		s.mu.Lock()
		s.restarts++
		s.mu.Unlock()
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
	select {
	case <-s.stop:
		return // stopped before
	default:
	}
	close(s.stop)
	s.mu.Lock()
	s.cmd.Process.Kill()
	s.mu.Unlock()
	<-s.done
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
	s.mu.Lock()
	restarts := s.restarts
	s.mu.Unlock()
	return fmt.Sprintf("mosquitto_sub %s (started again %d times), its stderr: %q; the broker's log ends:\n%s", running, restarts, s.stderr.String(), tail(s.broker.Log(), 40))
}

// tail returns the last n lines of log.
func tail(log string, n int) string {
	lines := strings.Split(strings.TrimRight(log, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
