package mosquittotest

import (
	"cmp"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edgepub/edgepub/internal/tutorialpki"
)

// SeedACL is the seed's CN-based rule plus a read-all monitor identity for
// the harness's subscriber.
const SeedACL = "pattern readwrite %u/#\n\nuser monitor\ntopic read #\n"

// Opts configures a broker.
type Opts struct {
	PKI *tutorialpki.PKI
	// ACL is the acl_file content; empty means SeedACL.
	ACL string
	// Extra lines are appended to mosquitto.conf.
	Extra []string
	// Port to listen on; 0 picks a free one.
	Port int
	// Netns runs the broker (and the harness's clients) inside this network
	// namespace, which the test created; the listener then binds every
	// address of the namespace and clients dial Host.
	Netns string
	// Host is the address clients dial; default 127.0.0.1. With Netns it
	// is the namespace's own address, the one the server certificate names.
	Host string
	// ClientCAFile, if set, replaces the listener's cafile: the broker then
	// trusts clients of another CA than the one that signed its own
	// certificate.
	ClientCAFile string
}

// Broker is a running (or stopped) Mosquitto listening on 127.0.0.1.
type Broker struct {
	t      testing.TB
	dir    string
	port   int
	pkiRef *tutorialpki.PKI
	netns  string
	host   string

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{}
	starts int
}

// Start writes the seed's listener block and starts Mosquitto. The test
// fails if mosquitto is not installed: .ci/run installs it.
func Start(t testing.TB, o Opts) *Broker {
	t.Helper()
	if _, err := exec.LookPath("mosquitto"); err != nil {
		if _, err2 := os.Stat("/usr/sbin/mosquitto"); err2 != nil {
			t.Fatalf("mosquitto is not installed (apt-get install -y mosquitto mosquitto-clients): %v", err)
		}
	}
	b := &Broker{t: t, dir: t.TempDir(), port: o.Port, pkiRef: o.PKI, netns: o.Netns, host: cmp.Or(o.Host, "127.0.0.1")}
	if b.port == 0 {
		b.port = FreePort(t)
	}
	acl := o.ACL
	if acl == "" {
		acl = SeedACL
	}
	write(t, filepath.Join(b.dir, "acl"), acl)
	conf := []string{
		"per_listener_settings false",
		"allow_anonymous false",
		"persistence true",
		"persistence_location " + b.dir + "/",
		// The harness's subscriber must not lose what queued up for it
		// while the broker restarted. Not 0 ("unlimited"): Mosquitto before
		// 2.0.22 then disconnects a client whose publish the ACL denies
		// (eclipse-mosquitto/mosquitto#3244).
		"max_queued_messages 10000000",
		"log_dest stderr",
		"log_type error",
		"log_type warning",
		"log_type notice",
		"log_type information",
		"connection_messages true",
		"acl_file " + filepath.Join(b.dir, "acl"),
		"",
		// The seed's listener block, verbatim but for the port and address.
		b.listenerLine(),
		"cafile " + cmp.Or(o.ClientCAFile, o.PKI.File("ca.crt")),
		"certfile " + o.PKI.File("server.crt"),
		"keyfile " + o.PKI.File("server.key"),
		"require_certificate true",
		"use_identity_as_username true",
	}
	if os.Geteuid() == 0 {
		// Mosquitto drops root to its own user, which cannot read the
		// test's temporary files.
		conf = append([]string{"user root"}, conf...)
	}
	conf = append(conf, o.Extra...)
	write(t, filepath.Join(b.dir, "mosquitto.conf"), strings.Join(conf, "\n")+"\n")
	b.Start()
	t.Cleanup(b.Kill)
	return b
}

func (b *Broker) listenerLine() string {
	if b.netns != "" {
		return fmt.Sprintf("listener %d", b.port)
	}
	return fmt.Sprintf("listener %d 127.0.0.1", b.port)
}

// command runs name inside the broker's namespace, if it has one.
func (b *Broker) command(name string, args ...string) *exec.Cmd {
	if b.netns == "" {
		return exec.Command(name, args...)
	}
	return exec.Command("ip", append([]string{"netns", "exec", b.netns, name}, args...)...)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// URL is the broker's address as edgepub takes it.
func (b *Broker) URL() string { return "ssl://" + net.JoinHostPort(b.host, strconv.Itoa(b.port)) }

// Port is the TCP port.
func (b *Broker) Port() int { return b.port }

// Start starts a stopped broker on the same port with the same persistence
// and waits until it accepts connections.
func (b *Broker) Start() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd != nil {
		return
	}
	logf, err := os.OpenFile(filepath.Join(b.dir, "mosquitto.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		b.t.Fatal(err)
	}
	cmd := b.command(lookMosquitto(), "-c", filepath.Join(b.dir, "mosquitto.conf"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		b.t.Fatalf("start mosquitto: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	b.cmd, b.done = cmd, done
	b.starts++
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b.listening() {
			return
		}
		select {
		case <-done:
			b.cmd = nil
			b.t.Fatalf("mosquitto exited at start:\n%s", b.Log())
		default:
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("mosquitto did not listen on port %d within 10s:\n%s", b.port, b.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// listening reports whether the broker accepts connections: a dial where
// the test can reach it, else its own log line (inside a namespace).
func (b *Broker) listening() bool {
	if b.netns != "" {
		return strings.Count(b.Log(), " running") > b.starts-1
	}
	c, err := net.DialTimeout("tcp", net.JoinHostPort(b.host, strconv.Itoa(b.port)), 200*time.Millisecond)
	if err == nil {
		c.Close()
	}
	return err == nil
}

func lookMosquitto() string {
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p
	}
	return "/usr/sbin/mosquitto"
}

// Stop shuts the broker down cleanly (SIGTERM), so it saves its persistence
// database, and waits for it to exit.
func (b *Broker) Stop() { b.signal(syscall.SIGTERM) }

// Kill stops the broker abruptly.
func (b *Broker) Kill() { b.signal(syscall.SIGKILL) }

// Restart stops and starts the broker.
func (b *Broker) Restart() {
	b.Stop()
	b.Start()
}

// SetACL replaces the acl_file; Reload makes a running broker read it.
func (b *Broker) SetACL(t testing.TB, acl string) {
	t.Helper()
	write(t, filepath.Join(b.dir, "acl"), acl)
}

// Reload sends SIGHUP, on which Mosquitto reads its ACL file again (as
// `systemctl reload mosquitto` does), and returns once it logged so.
func (b *Broker) Reload() {
	b.t.Helper()
	b.mu.Lock()
	before := strings.Count(b.Log(), "Reloading config")
	if b.cmd != nil {
		b.cmd.Process.Signal(syscall.SIGHUP)
	}
	b.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(b.Log(), "Reloading config") <= before {
		if time.Now().After(deadline) {
			b.t.Fatalf("mosquitto did not reload within 10s:\n%s", b.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (b *Broker) signal(sig syscall.Signal) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil {
		return
	}
	b.cmd.Process.Signal(sig)
	select {
	case <-b.done:
	case <-time.After(10 * time.Second):
		b.cmd.Process.Kill()
		<-b.done
	}
	b.cmd = nil
}

// Log returns what the broker logged so far.
func (b *Broker) Log() string {
	data, _ := os.ReadFile(filepath.Join(b.dir, "mosquitto.log"))
	return string(data)
}

func write(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
