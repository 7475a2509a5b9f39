package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// broker is the one Mosquitto the fleet connects to, started from Debian's
// package with the seed's TLS listener on 127.0.0.1.
type broker struct {
	bin, dir, conf, logPath string
	port                    int

	cmd  *exec.Cmd
	done chan struct{}
}

// brokerLogTime is the log_timestamp_format set below: 1 s resolution.
const brokerLogTime = "2006-01-02T15:04:05"

// newBroker writes mosquitto.conf: the seed's listener block (mTLS,
// require_certificate, CN as user name), the seed's ACL plus a read-all
// monitor, persistence so a restart keeps the monitor's queued messages,
// and no connection limit. extraACL is appended to the ACL.
func newBroker(bin, dir string, port int, pki pkiFiles, extraACL string) (*broker, error) {
	b := &broker{bin: bin, dir: dir, port: port, conf: filepath.Join(dir, "mosquitto.conf"), logPath: filepath.Join(dir, "mosquitto.log")}
	acl := "pattern readwrite %u/#\n\nuser monitor\ntopic read #\n" + extraACL
	if err := os.WriteFile(filepath.Join(dir, "acl"), []byte(acl), 0o600); err != nil {
		return nil, err
	}
	conf := []string{
		"per_listener_settings false",
		"allow_anonymous false",
		"persistence true",
		"persistence_location " + dir + "/",
		"max_connections -1",
		// The monitor must get everything that queued up for it while it
		// reconnected. Not 0 ("no limit"): Mosquitto before 2.0.22
		// disconnects clients then (eclipse-mosquitto/mosquitto#3244).
		"max_queued_messages 10000000",
		"log_dest stderr",
		"log_type error",
		"log_type warning",
		"log_type notice",
		"log_type information",
		"log_timestamp true",
		"log_timestamp_format %Y-%m-%dT%H:%M:%S",
		"connection_messages true",
		"acl_file " + filepath.Join(dir, "acl"),
		"",
		fmt.Sprintf("listener %d 127.0.0.1", port),
		"cafile " + pki.CA,
		"certfile " + pki.ServerCert,
		"keyfile " + pki.ServerKey,
		"require_certificate true",
		"use_identity_as_username true",
	}
	if os.Geteuid() == 0 {
		// Mosquitto would drop root to its own user, which cannot read
		// the files in our temporary directory.
		conf = append([]string{"user root"}, conf...)
	}
	return b, os.WriteFile(b.conf, []byte(strings.Join(conf, "\n")+"\n"), 0o600)
}

func (b *broker) url() string { return "ssl://" + b.addr() }

func (b *broker) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port)) }

// start runs Mosquitto and returns once it accepts connections.
func (b *broker) start(ctx context.Context) error {
	logf, err := os.OpenFile(b.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(b.bin, "-c", b.conf)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start mosquitto (apt-get install -y mosquitto): %w", err)
	}
	b.cmd, b.done = cmd, make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(b.done) }()
	for {
		if c, err := net.DialTimeout("tcp", b.addr(), 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-b.done:
			return fmt.Errorf("mosquitto exited at start; see %s", b.logPath)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// stop shuts Mosquitto down cleanly (it saves its persistence file) and
// waits for it to exit.
func (b *broker) stop() error { return b.signal(syscall.SIGTERM, 60*time.Second) }

// kill ends Mosquitto at once; for clean-up.
func (b *broker) kill() { b.signal(syscall.SIGKILL, 10*time.Second) }

func (b *broker) signal(sig syscall.Signal, wait time.Duration) error {
	if b.cmd == nil {
		return nil
	}
	defer func() { b.cmd = nil }()
	b.cmd.Process.Signal(sig)
	select {
	case <-b.done:
		return nil
	case <-time.After(wait):
		b.cmd.Process.Kill()
		<-b.done
		return fmt.Errorf("mosquitto did not exit within %v of %v", wait, sig)
	}
}

// cpu is the user and system time the running broker has used.
func (b *broker) cpu() time.Duration {
	if b.cmd == nil {
		return 0
	}
	return cpuOf(fmt.Sprintf("/proc/%d/stat", b.cmd.Process.Pid))
}

// cpuOf reads utime+stime from a /proc/<pid>/stat file (clock ticks of
// 10 ms: USER_HZ is 100 on Linux).
func cpuOf(statFile string) time.Duration {
	data, err := os.ReadFile(statFile)
	if err != nil {
		return 0
	}
	// The command name in parentheses may hold spaces; fields count
	// from after it. utime and stime are fields 14 and 15.
	_, rest, ok := strings.Cut(string(data), ") ")
	if !ok {
		return 0
	}
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// rssBytes is the broker's resident memory.
func (b *broker) rssBytes() int64 {
	if b.cmd == nil {
		return 0
	}
	return rssOf(fmt.Sprintf("/proc/%d/status", b.cmd.Process.Pid))
}

// logSize is the log's length now; connections after it belong to the
// next phase.
func (b *broker) logSize() int64 {
	st, err := os.Stat(b.logPath)
	if err != nil {
		return 0
	}
	return st.Size()
}

// connectStats summarises the broker log's "New client connected" lines of
// the devices (client ids with prefix) from offset on.
type connectStats struct {
	Connects int            // accepted connections
	Devices  int            // distinct devices among them
	PerSec   map[string]int // connections per log second
	First    time.Time
	Last     time.Time
	Peak     int    // most connections in one second
	PeakAt   string // that second
	Errors   int    // TLS or socket errors logged in the phase
}

func (b *broker) connects(offset int64, prefix string) (connectStats, error) {
	st := connectStats{PerSec: map[string]int{}}
	f, err := os.Open(b.logPath)
	if err != nil {
		return st, err
	}
	defer f.Close()
	if _, err := f.Seek(offset, 0); err != nil {
		return st, err
	}
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		stamp, msg, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		if strings.HasPrefix(msg, "OpenSSL Error") || strings.HasPrefix(msg, "Socket error") || strings.HasPrefix(msg, "Bad socket") {
			st.Errors++
		}
		_, rest, ok := strings.Cut(msg, "New client connected from ")
		if !ok {
			continue
		}
		_, after, _ := strings.Cut(rest, " as ")
		id, _, _ := strings.Cut(after, " ")
		if !strings.HasPrefix(id, prefix) {
			continue
		}
		at, err := time.ParseInLocation(brokerLogTime, stamp, time.Local)
		if err != nil {
			return st, fmt.Errorf("broker log time %q: %w", stamp, err)
		}
		st.Connects++
		if !seen[id] {
			seen[id] = true
			st.Devices++
		}
		st.PerSec[stamp]++
		if st.PerSec[stamp] > st.Peak {
			st.Peak, st.PeakAt = st.PerSec[stamp], stamp
		}
		if st.First.IsZero() {
			st.First = at
		}
		st.Last = at
	}
	return st, sc.Err()
}

// histogram lists connections per second relative to base.
func (st connectStats) histogram(base time.Time) string {
	stamps := make([]string, 0, len(st.PerSec))
	for s := range st.PerSec {
		stamps = append(stamps, s)
	}
	sort.Strings(stamps)
	var b strings.Builder
	for _, s := range stamps {
		at, _ := time.ParseInLocation(brokerLogTime, s, time.Local)
		fmt.Fprintf(&b, "    %s (+%2.0fs) %4d %s\n", s, at.Sub(base.Truncate(time.Second)).Seconds(), st.PerSec[s], bar(st.PerSec[s], st.Peak))
	}
	return b.String()
}

func bar(n, peak int) string {
	if peak == 0 {
		return ""
	}
	return strings.Repeat("#", (n*50+peak-1)/peak)
}

// rssOf reads VmRSS from a /proc/<pid>/status file.
func rssOf(statusFile string) int64 {
	data, err := os.ReadFile(statusFile)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// listenDrops reads the kernel's count of connection attempts dropped
// because a listen queue was full (TcpExt ListenDrops, for the whole
// network namespace): Mosquitto listens with a backlog of 100, so a burst
// of simultaneous connects overflows it and those clients wait for a SYN
// retransmission (1 s, then 2 s, 4 s…).
func listenDrops() int64 {
	data, err := os.ReadFile("/proc/net/netstat")
	if err != nil {
		return -1
	}
	lines := strings.Split(string(data), "\n")
	for i := 0; i+1 < len(lines); i += 2 {
		names, values := strings.Fields(lines[i]), strings.Fields(lines[i+1])
		if len(names) == 0 || names[0] != "TcpExt:" || len(values) != len(names) {
			continue
		}
		for j, n := range names {
			if n == "ListenDrops" {
				v, _ := strconv.ParseInt(values[j], 10, 64)
				return v
			}
		}
	}
	return -1
}

var errBrokerMissing = errors.New("mosquitto not found: apt-get install -y mosquitto mosquitto-clients")

func lookMosquitto() (string, error) {
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/mosquitto"); err == nil {
		return "/usr/sbin/mosquitto", nil
	}
	return "", errBrokerMissing
}
