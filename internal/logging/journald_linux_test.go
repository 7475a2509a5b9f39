package logging

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The journald tests run New in a child process with its own mount
// namespace, in which /run/systemd/journal/socket (the path slog-journal
// always writes to) is a bind mount of a socket this test listens on. So the
// real slog-journal handler is exercised and the host's journal is never
// touched.
const journalChildEnv = "EDGEPUB_LOGGING_JOURNAL_CHILD"

func TestNativeJournalRecords(t *testing.T) {
	records := runJournalChild(t)
	if len(records) != 5 {
		t.Fatalf("journal got %d records, want 5: %v", len(records), records)
	}
	expect := func(i int, want map[string]string) {
		t.Helper()
		for field, value := range want {
			if got := records[i][field]; got != value {
				t.Errorf("record %d: %s = %q, want %q (record %v)", i, field, got, value, records[i])
			}
		}
	}

	expect(0, map[string]string{
		"MESSAGE":           "edgepub started",
		"PRIORITY":          "6",
		"MESSAGE_ID":        MsgStarted,
		"DEVICE":            "kai-pi",
		"BROKER":            "ssl://127.0.0.1:8883",
		"BACKLOG":           "17",
		"SYSLOG_IDENTIFIER": filepath.Base(os.Args[0]),
	})
	expect(1, map[string]string{
		"MESSAGE":         "sensor failing",
		"PRIORITY":        "4",
		"DEVICE":          "kai-pi",
		"SENSOR_NAME":     "bme280",
		"SENSOR_BUS_ADDR": "118",
	})
	expect(2, map[string]string{
		"PRIORITY":         "3",
		"CERT_DAYS_LEFT":   "-2",
		"ERROR":            "x509: certificate has expired",
		"CLIENT_KEY":       redacted,
		"EDGEPUB_PRIORITY": "high",
	})
	expect(3, map[string]string{"PRIORITY": "2", "MESSAGE_ID": MsgCertExpired})
	expect(4, map[string]string{"PRIORITY": "7", "MESSAGE": "line one\nline two"})

	for i, r := range records {
		for field, value := range r {
			if !validField.MatchString(field) {
				t.Errorf("record %d carries invalid field name %q", i, field)
			}
			if strings.Contains(value, "PRIVATE KEY") {
				t.Errorf("record %d: field %s leaks key material", i, field)
			}
		}
	}
}

// TestJournalChild is the child's side of TestNativeJournalRecords; run on
// its own it skips.
func TestJournalChild(t *testing.T) {
	socket := os.Getenv(journalChildEnv)
	if socket == "" {
		t.Skip("runs only as the child of TestNativeJournalRecords")
	}
	if err := mountFakeJournal(socket); err != nil {
		t.Fatal(err)
	}
	logger := New(Opts{Level: slog.LevelDebug, Stderr: os.Stderr})
	if _, ok := logger.Handler().(*journalHandler); !ok {
		t.Fatalf("New chose %T although stderr is the journal stream", logger.Handler())
	}
	logger.Info("edgepub started", MessageID(MsgStarted), "device", "kai-pi",
		"broker", "ssl://127.0.0.1:8883", "backlog", 17)
	logger.With("device", "kai-pi").WithGroup("sensor").Warn("sensor failing",
		"name", "bme280", slog.Group("bus", "addr", 0x76))
	logger.Error("certificate expired", "cert_days_left", -2,
		"error", errors.New("x509: certificate has expired"),
		"client_key", "-----BEGIN PRIVATE KEY-----", "priority", "high")
	logger.Log(t.Context(), LevelCritical, "cannot publish", MessageID(MsgCertExpired))
	logger.Debug("line one\nline two")
}

// mountFakeJournal runs in the child: it hides the host's /run behind a
// tmpfs and puts the parent's socket where journald's would be.
func mountFakeJournal(socket string) error {
	// Keep every mount below private to this namespace, whatever the
	// host's propagation settings are.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	// Hold the socket by fd: a socket under /run would vanish under the tmpfs.
	fd, err := unix.Open(socket, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", socket, err)
	}
	if err := unix.Mount("tmpfs", "/run", "tmpfs", 0, "mode=0755"); err != nil {
		return fmt.Errorf("mount tmpfs on /run: %w", err)
	}
	if err := os.MkdirAll("/run/systemd/journal", 0o755); err != nil {
		return err
	}
	const target = "/run/systemd/journal/socket"
	if err := os.WriteFile(target, nil, 0o644); err != nil {
		return err
	}
	if err := unix.Mount(fmt.Sprintf("/proc/self/fd/%d", fd), target, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s to %s: %w", socket, target, err)
	}
	return nil
}

// runJournalChild starts TestJournalChild with stderr on a file that
// JOURNAL_STREAM names, as systemd does for a service, and returns the
// records it sent, decoded.
func runJournalChild(t *testing.T) []map[string]string {
	t.Helper()
	dir := t.TempDir()
	socket := filepath.Join(dir, "journal.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: socket, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	stderr, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(stderr.Fd()), &st); err != nil {
		t.Fatal(err)
	}

	var stdout bytes.Buffer
	cmd := exec.Command(os.Args[0], "-test.run=^TestJournalChild$", "-test.v")
	cmd.Env = append(os.Environ(),
		journalChildEnv+"="+socket,
		fmt.Sprintf("JOURNAL_STREAM=%d:%d", st.Dev, st.Ino))
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	if os.Geteuid() != 0 {
		// Without root, a user namespace grants the mount rights.
		cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWUSER
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
	}
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot create a mount namespace here (%v); the journald path is covered by packaging/test/nspawn.sh", err)
	}
	if err := cmd.Wait(); err != nil {
		errOut, _ := os.ReadFile(stderr.Name())
		t.Fatalf("child failed: %v\n%s%s", err, stdout.String(), errOut)
	}

	var records []map[string]string
	buf := make([]byte, 1<<16)
	for {
		if err := conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		n, err := conn.Read(buf)
		if err != nil {
			break
		}
		r, err := decodeJournalDatagram(buf[:n])
		if err != nil {
			t.Fatalf("datagram %q: %v", buf[:n], err)
		}
		records = append(records, r)
	}
	return records
}

// decodeJournalDatagram reads journald's native protocol: KEY=value lines,
// or KEY\n<64-bit little-endian length><value>\n for values with newlines.
func decodeJournalDatagram(b []byte) (map[string]string, error) {
	fields := map[string]string{}
	for len(b) > 0 {
		nl := bytes.IndexByte(b, '\n')
		if nl < 0 {
			return nil, errors.New("field without newline")
		}
		if key, value, ok := bytes.Cut(b[:nl], []byte("=")); ok {
			fields[string(key)] = string(value)
			b = b[nl+1:]
			continue
		}
		key := string(b[:nl])
		b = b[nl+1:]
		if len(b) < 8 {
			return nil, fmt.Errorf("field %s: truncated length", key)
		}
		size := binary.LittleEndian.Uint64(b)
		b = b[8:]
		if uint64(len(b)) < size+1 || b[size] != '\n' {
			return nil, fmt.Errorf("field %s: value of %d bytes not followed by newline", key, size)
		}
		fields[key] = string(b[:size])
		b = b[size+1:]
	}
	return fields, nil
}
