package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// monitor is a mosquitto_sub with a persistent QoS 1 session, logged in as
// the read-all monitor identity, counting every device's seqs.
type monitor struct {
	cmd  *exec.Cmd
	done chan struct{}

	mu       sync.Mutex
	seqs     map[string]map[uint64]int // device → seq → arrivals
	total    int
	probes   int
	bad      int
	lastSeen time.Time
}

const monitorClientID = "fleet-monitor"

func startMonitor(ctx context.Context, b *broker, pki pkiFiles) (*monitor, error) {
	m := &monitor{seqs: map[string]map[uint64]int{}, done: make(chan struct{})}
	m.cmd = exec.Command("mosquitto_sub",
		"-h", "127.0.0.1", "-p", strconv.Itoa(b.port),
		"--cafile", pki.CA, "--cert", pki.MonitorCert, "--key", pki.MonitorKey,
		"-q", "1", "-c", "-i", monitorClientID,
		"-t", "+/sensors/#", "-t", "monitor/ready",
		"-F", "%t %p")
	out, err := m.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := m.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start mosquitto_sub (apt-get install -y mosquitto-clients): %w", err)
	}
	go func() {
		defer close(m.done)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			m.add(sc.Text())
		}
	}()
	// A probe through the broker proves the subscription is in place.
	for n := 0; ; n++ {
		pub := exec.CommandContext(ctx, "mosquitto_pub", "-h", "127.0.0.1", "-p", strconv.Itoa(b.port),
			"--cafile", pki.CA, "--cert", pki.MonitorCert, "--key", pki.MonitorKey,
			"-q", "1", "-t", "monitor/ready", "-m", strconv.Itoa(n))
		if out, err := pub.CombinedOutput(); err != nil {
			m.stop()
			return nil, fmt.Errorf("mosquitto_pub probe: %v: %s", err, out)
		}
		if m.probeCount() > 0 {
			return m, nil
		}
		select {
		case <-ctx.Done():
			m.stop()
			return nil, fmt.Errorf("monitor did not come up: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (m *monitor) add(line string) {
	topic, payload, _ := strings.Cut(line, " ")
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lastSeen = time.Now()
	if topic == "monitor/ready" {
		m.probes++
		return
	}
	var r struct {
		Device string `json:"device"`
		Seq    uint64 `json:"seq"`
	}
	if err := json.Unmarshal([]byte(payload), &r); err != nil || r.Seq == 0 || r.Device == "" {
		m.bad++
		return
	}
	s := m.seqs[r.Device]
	if s == nil {
		s = map[uint64]int{}
		m.seqs[r.Device] = s
	}
	s[r.Seq]++
	m.total++
}

func (m *monitor) probeCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.probes
}

// received is the number of readings so far and when the last message came.
func (m *monitor) received() (int, time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.total, m.lastSeen
}

// waitQuiet returns once nothing arrived for quiet.
func (m *monitor) waitQuiet(ctx context.Context, quiet time.Duration) error {
	for {
		_, last := m.received()
		if time.Since(last) >= quiet {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("monitor still receiving: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// tally is what the monitor saw of the whole fleet.
type tally struct {
	Readings    int // arrivals, duplicates included
	Unique      int
	Duplicates  int
	Missing     int // seqs below a device's highest that never arrived
	Devices     int // devices with at least one reading
	Silent      []string
	MissingBy   map[string][]uint64
	Undecodable int
}

func (m *monitor) tally(devices []string) tally {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := tally{Readings: m.total, Undecodable: m.bad, MissingBy: map[string][]uint64{}}
	for _, name := range devices {
		s := m.seqs[name]
		if len(s) == 0 {
			t.Silent = append(t.Silent, name)
			continue
		}
		t.Devices++
		var top uint64
		for seq, n := range s {
			top = max(top, seq)
			t.Unique++
			t.Duplicates += n - 1
		}
		for seq := uint64(1); seq <= top; seq++ {
			if s[seq] == 0 {
				t.Missing++
				if len(t.MissingBy[name]) < 10 {
					t.MissingBy[name] = append(t.MissingBy[name], seq)
				}
			}
		}
	}
	return t
}

func (m *monitor) stop() {
	if m.cmd.Process != nil {
		m.cmd.Process.Kill()
	}
	<-m.done
	m.cmd.Wait()
}
