package sdnotify

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeSystemd listens where NOTIFY_SOCKET points, as systemd does for a
// Type=notify unit.
func fakeSystemd(t *testing.T) *net.UnixConn {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return conn
}

func receive(t *testing.T, conn *net.UnixConn) string {
	t.Helper()
	buf := make([]byte, 4096)
	if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("no datagram from the notifier: %v", err)
	}
	return string(buf[:n])
}

// nothingPending fails if a datagram is waiting on conn.
func nothingPending(t *testing.T, conn *net.UnixConn) {
	t.Helper()
	buf := make([]byte, 4096)
	if err := conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if n, err := conn.Read(buf); err == nil {
		t.Fatalf("unexpected datagram %q", buf[:n])
	}
}

func TestStateChangesReachSystemd(t *testing.T) {
	conn := fakeSystemd(t)
	n := New(slog.New(slog.DiscardHandler))
	if !n.Enabled() {
		t.Fatal("Enabled() = false with NOTIFY_SOCKET set")
	}

	n.Ready()
	if got := receive(t, conn); got != "READY=1" {
		t.Errorf("Ready sent %q, want READY=1", got)
	}

	n.Status("connected to ssl://127.0.0.1:8883,\n3 sensors\nREADY=1")
	if got, want := receive(t, conn), "STATUS=connected to ssl://127.0.0.1:8883, 3 sensors READY=1"; got != want {
		t.Errorf("Status sent %q, want %q (one line, no forged assignments)", got, want)
	}

	n.Reloading()
	got := receive(t, conn)
	lines := strings.Split(got, "\n")
	if len(lines) != 2 || lines[0] != "RELOADING=1" || !strings.HasPrefix(lines[1], "MONOTONIC_USEC=") {
		t.Fatalf("Reloading sent %q, want RELOADING=1 and MONOTONIC_USEC=… in one datagram", got)
	}
	if usec, err := strconv.ParseUint(strings.TrimPrefix(lines[1], "MONOTONIC_USEC="), 10, 64); err != nil || usec == 0 {
		t.Errorf("MONOTONIC_USEC in %q is not a positive number", got)
	}

	n.Stopping()
	if got := receive(t, conn); got != "STOPPING=1" {
		t.Errorf("Stopping sent %q, want STOPPING=1", got)
	}
}

func TestWithoutNotifySocketNothingHappens(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	t.Setenv("WATCHDOG_USEC", "1000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	n := New(slog.New(slog.DiscardHandler))
	if n.Enabled() {
		t.Error("Enabled() = true without NOTIFY_SOCKET")
	}
	n.Ready()
	n.Status("x")
	n.Stopping()

	done := make(chan struct{})
	go func() {
		n.RunWatchdog(context.Background(), func() bool { t.Error("progress called without systemd"); return true })
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("RunWatchdog without NOTIFY_SOCKET did not return")
	}
}

func TestWatchdogOffWhenMeantForAnotherProcess(t *testing.T) {
	fakeSystemd(t)
	t.Setenv("WATCHDOG_USEC", "30000000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()+1))
	if got := New(slog.New(slog.DiscardHandler)).WatchdogInterval(); got != 0 {
		t.Errorf("WatchdogInterval() = %v for another PID's watchdog, want 0", got)
	}
}

func TestSendFailureIsLoggedNotFatal(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "nobody-listens"))
	var logs bytes.Buffer
	n := New(slog.New(slog.NewTextHandler(&logs, nil)))
	n.Ready()
	if !strings.Contains(logs.String(), "cannot notify systemd") || !strings.Contains(logs.String(), "READY=1") {
		t.Errorf("log = %q, want a warning naming READY=1", logs.String())
	}
}

// TestWatchdogPingsOnlyAfterProgress drives RunWatchdog through a scripted
// sequence of progress answers and checks that exactly the intervals that
// reported progress produced a WATCHDOG=1 datagram.
func TestWatchdogPingsOnlyAfterProgress(t *testing.T) {
	conn := fakeSystemd(t)
	t.Setenv("WATCHDOG_USEC", "20000") // pings every 10ms
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	var logs bytes.Buffer
	n := New(slog.New(slog.NewTextHandler(&logs, nil)))
	if got := n.WatchdogInterval(); got != 20*time.Millisecond {
		t.Fatalf("WatchdogInterval() = %v, want 20ms", got)
	}

	// The last answer is false on purpose: once RunWatchdog asked for it,
	// every earlier true answer's ping has been sent and no later ping can
	// follow before cancel.
	script := []bool{true, false, false, true, false, true, true, false}
	asked := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	progress := func() bool {
		answer := calls < len(script) && script[calls]
		calls++
		asked <- struct{}{}
		return answer
	}
	done := make(chan struct{})
	go func() { n.RunWatchdog(ctx, progress); close(done) }()

	for range script {
		select {
		case <-asked:
		case <-time.After(5 * time.Second):
			t.Fatal("RunWatchdog stopped asking for progress")
		}
	}
	cancel()
	<-done

	wantPings := 0
	for _, p := range script {
		if p {
			wantPings++
		}
	}
	for i := range wantPings {
		if got := receive(t, conn); got != "WATCHDOG=1" {
			t.Fatalf("datagram %d = %q, want WATCHDOG=1", i, got)
		}
	}
	nothingPending(t, conn)

	if got := strings.Count(logs.String(), "withholding the watchdog ping"); got != 3 {
		t.Errorf("logged %d stalls, want 3 (one per stalled stretch):\n%s", got, logs.String())
	}
}

func TestWatchdogReturnsWhenContextEnds(t *testing.T) {
	fakeSystemd(t)
	t.Setenv("WATCHDOG_USEC", "3600000000")
	t.Setenv("WATCHDOG_PID", "")
	n := New(slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.RunWatchdog(ctx, func() bool { return true }); close(done) }()
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("RunWatchdog did not return after ctx was cancelled")
	}
}
