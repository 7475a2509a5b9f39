package main

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgepub/edgepub/internal/mosquittotest"
)

// failoverBackoffMax is the config's backoff_max: after the first broker
// dies, the next attempt, on the next broker, starts within it.
const failoverBackoffMax = 2 * time.Second

var backlogAttr = regexp.MustCompile(` backlog=(\d+)`)

// logLineAfter returns the first line of the log after offset that
// contains every part, and the offset after it.
func logLineAfter(log string, offset int, parts ...string) (string, int) {
	pos := offset
	for _, line := range strings.SplitAfter(log[min(offset, len(log)):], "\n") {
		pos += len(line)
		ok := strings.HasSuffix(line, "\n")
		for _, p := range parts {
			ok = ok && strings.Contains(line, p)
		}
		if ok {
			return line, pos
		}
	}
	return "", -1
}

// Two brokers sharing the seed PKI are configured in order. The first dies
// (SIGKILL) and stays down: edgepub moves to the second within the backoff
// bound and delivers its backlog there. Readings the first broker took
// before it died are at its subscriber, the rest at the second's: together
// not one seq is missing.
func TestFailoverToTheSecondBrokerLosesNothing(t *testing.T) {
	pki := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
	first := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki})
	second := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki})
	atFirst := first.Subscribe(t, "Kai/sensors/#", mosquittotest.SubOpts{Persistent: true, ClientID: "monitor-first"})
	atSecond := second.Subscribe(t, "Kai/sensors/#", mosquittotest.SubOpts{Persistent: true, ClientID: "monitor-second"})
	config := writeConfig(t, deviceConfig([]string{first.URL(), second.URL()}, pki.DeviceDir(t, "Kai"), t.TempDir(),
		time.Second, failoverBackoffMax, 50*time.Millisecond, 0))

	d := startDaemonProc(t, "", config)
	d.WaitLog(`msg="connected to broker" device=Kai broker=`+first.URL(), 10*time.Second)
	atFirst.WaitFor(10*time.Second, "100 readings at the first broker", func(m []mosquittotest.Message) bool {
		return deliveries(t, m, "Kai").maxSeq >= 100
	})

	offset := len(d.Log())
	killed := time.Now()
	first.Kill()
	var moved time.Duration
	var connectLine string
	for {
		connectLine, _ = logLineAfter(d.Log(), offset, `msg="connected to broker"`, "broker="+second.URL())
		if connectLine != "" {
			moved = time.Since(killed)
			break
		}
		if time.Since(killed) > 3*failoverBackoffMax {
			t.Fatalf("edgepub did not move to the second broker within %v", 3*failoverBackoffMax)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("moved to the second broker %v after the first died: %s", moved.Round(time.Millisecond), strings.TrimSpace(connectLine))
	// One backoff (at most backoff_max) plus one TLS connect on loopback.
	if moved > failoverBackoffMax+time.Second {
		t.Errorf("edgepub took %v to reach the second broker, want within backoff_max %v (+1s to connect)", moved.Round(time.Millisecond), failoverBackoffMax)
	}
	if _, lost := logLineAfter(d.Log(), offset, "disconnected from broker", "broker="+first.URL()); lost < 0 {
		t.Error("edgepub did not log losing the first broker")
	}
	backlog := 0
	if m := backlogAttr.FindStringSubmatch(connectLine); m != nil {
		backlog, _ = strconv.Atoi(m[1])
	}
	if backlog == 0 {
		t.Errorf("no backlog when reaching the second broker after 1s offline at 40 readings/s: %s", connectLine)
	}
	// The backlog, then live readings, at the second broker.
	atKill := deliveries(t, atFirst.Messages(), "Kai").maxSeq
	atSecond.WaitFor(15*time.Second, "the backlog and 50 live readings at the second broker", func(m []mosquittotest.Message) bool {
		return deliveries(t, m, "Kai").maxSeq >= atKill+uint64(backlog)+50
	})
	stopWithin(t, d, 2*time.Second)

	atSecond.Sync() // everything the second broker acknowledged has arrived
	one, two := deliveries(t, atFirst.Messages(), "Kai"), deliveries(t, atSecond.Messages(), "Kai")
	union := map[uint64]bool{}
	var maxSeq uint64
	for _, got := range []delivery{one, two} {
		for s := range got.unique {
			union[s] = true
		}
		maxSeq = max(maxSeq, got.maxSeq)
	}
	var missing []uint64
	for s := uint64(1); s <= maxSeq; s++ {
		if !union[s] {
			missing = append(missing, s)
		}
	}
	lowAtSecond := maxSeq
	for s := range two.unique {
		lowAtSecond = min(lowAtSecond, s)
	}
	t.Logf("first broker: seqs up to %d (%d readings); second: %d..%d (%d readings); backlog at failover %d; overlap %d",
		one.maxSeq, len(one.unique), lowAtSecond, two.maxSeq, len(two.unique), backlog, len(one.unique)+len(two.unique)-len(union))
	if len(missing) > 0 {
		t.Errorf("%d of %d seqs reached neither broker's subscriber: %s", len(missing), maxSeq, summarize(missing))
	}
	if lowAtSecond > one.maxSeq+1 {
		t.Errorf("the second broker's readings start at seq %d, the first's end at %d", lowAtSecond, one.maxSeq)
	}
}
