package daemon

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgepub/edgepub/config"
	"github.com/edgepub/edgepub/internal/clock"
	"github.com/edgepub/edgepub/internal/mosquittotest"
	"github.com/edgepub/edgepub/internal/testutil"
	"github.com/edgepub/edgepub/internal/tutorialpki"
	"github.com/edgepub/edgepub/sensors"
)

// countingSensor returns 1, 2, 3, … as "n" and remembers the true (real
// clock) time of each read: what a repaired time must come back to.
type countingSensor struct {
	mu sync.Mutex
	n  int
	at map[int]time.Time
}

func newCountingSensor() *countingSensor { return &countingSensor{at: map[int]time.Time{}} }

func (c *countingSensor) Sense(context.Context) (sensors.Values, error) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	c.at[c.n] = now
	return sensors.Values{"n": float64(c.n)}, nil
}

func (c *countingSensor) open(context.Context, config.Sensor) (sensors.Sensor, error) { return c, nil }

func (c *countingSensor) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func (c *countingSensor) trueTime(n int) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.at[n]
}

// stamped is what a subscriber sees of a counted reading.
type stamped struct {
	N      int
	Time   time.Time
	Synced bool // no time_synced:false
}

func stampedReadings(t *testing.T, msgs []mosquittotest.Message) []stamped {
	t.Helper()
	var out []stamped
	for _, m := range msgs {
		if !strings.HasPrefix(m.Topic, "Kai/sensors/") {
			continue
		}
		var v struct {
			N          float64   `json:"n"`
			Time       time.Time `json:"time"`
			TimeSynced *bool     `json:"time_synced"`
		}
		if err := json.Unmarshal([]byte(m.Payload), &v); err != nil {
			t.Fatalf("payload %q: %v", m.Payload, err)
		}
		if v.TimeSynced != nil && *v.TimeSynced {
			t.Errorf("payload carries time_synced:true, which is never sent: %s", m.Payload)
		}
		out = append(out, stamped{N: int(v.N), Time: v.Time, Synced: v.TimeSynced == nil})
	}
	return out
}

func clockConfig(t *testing.T, broker *mosquittotest.Broker, pki *tutorialpki.PKI, stateDir string) config.Config {
	cfg := testConfig(t, broker, pki.DeviceDir(t, "Kai"), stateDir)
	cfg.Sensors = []config.Sensor{{Name: "counter", Type: "sim-soc", Interval: config.Duration(50 * time.Millisecond), Timeout: config.Duration(25 * time.Millisecond), Samples: 1}}
	return cfg
}

// A Pi boots without network, its clock 3 days behind; NTP syncs 20 s later.
// Publishing is held meanwhile, and every reading a real subscriber gets
// carries its true time within 50 ms, none marked unsynced.
func TestLateSyncRepairsEveryReading(t *testing.T) {
	pki := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
	broker := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki})
	sub := broker.Subscribe(t, "Kai/sensors/#", mosquittotest.SubOpts{Persistent: true})
	counter := newCountingSensor()
	start := time.Now()
	skewed := &clock.Skewed{Base: &clock.System{}, Start: start, Behind: 72 * time.Hour, SyncAfter: 20 * time.Second, Boot: [16]byte{1}}
	logger, logs := capturingLogger(t)
	r := startDaemon(t, Opts{Config: clockConfig(t, broker, pki, t.TempDir()), Clock: skewed, OpenSensor: counter.open, Logger: logger})

	synced := start.Add(20 * time.Second)
	sub.WaitFor(45*time.Second, "readings taken a second after the sync", func(m []mosquittotest.Message) bool {
		for _, s := range stampedReadings(t, m) {
			if counter.trueTime(s.N).After(synced.Add(time.Second)) {
				return true
			}
		}
		return false
	})
	r.stop(t)
	sub.Sync()
	got := stampedReadings(t, sub.Messages())
	before := 0
	for _, s := range got {
		truth := counter.trueTime(s.N)
		if d := s.Time.Sub(truth); d.Abs() > 50*time.Millisecond || !s.Synced {
			t.Errorf("reading %d taken at %s arrived with time %s (off by %v), synced %v", s.N, truth.UTC().Format(time.RFC3339Nano), s.Time.Format(time.RFC3339Nano), d, s.Synced)
		}
		if truth.Before(synced) {
			before++
		}
	}
	if before < 100 {
		t.Errorf("only %d readings were taken before the sync: the test did not exercise the repair", before)
	}
	if !strings.Contains(logs.String(), "clock synced") {
		t.Error("the sync was not logged")
	}
	t.Logf("%d readings, %d taken before the sync", len(got), before)
}

// A clock that never syncs: readings are held for clock.hold_unsynced after
// boot, then sent marked time_synced:false.
func TestNeverSyncedReadingsAreMarkedAfterTheHold(t *testing.T) {
	pki := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
	broker := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki})
	sub := broker.Subscribe(t, "Kai/sensors/#", mosquittotest.SubOpts{Persistent: true})
	counter := newCountingSensor()
	cfg := clockConfig(t, broker, pki, t.TempDir())
	const hold = 3 * time.Second
	cfg.Clock.HoldUnsynced = config.Duration(hold)
	start := time.Now()
	skewed := &clock.Skewed{Base: &clock.System{}, Start: start, SyncAfter: -1, Boot: [16]byte{2}}
	startDaemon(t, Opts{Config: cfg, Clock: skewed, OpenSensor: counter.open})

	var first time.Time
	for deadline := time.Now().Add(20 * time.Second); first.IsZero(); time.Sleep(20 * time.Millisecond) {
		if len(stampedReadings(t, sub.Messages())) > 0 {
			first = time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatal("no reading arrived within 20s")
		}
	}
	if first.Before(start.Add(hold)) {
		t.Errorf("the first reading arrived %v after boot, within the %v hold", first.Sub(start), hold)
	}
	msgs := sub.WaitFor(10*time.Second, "readings taken after the hold", func(m []mosquittotest.Message) bool {
		rs := stampedReadings(t, m)
		return len(rs) > 0 && counter.trueTime(rs[len(rs)-1].N).After(start.Add(hold+time.Second))
	})
	for _, s := range stampedReadings(t, msgs) {
		if s.Synced {
			t.Fatalf("reading %d of a never synced clock is not marked time_synced:false", s.N)
		}
	}
}

// A restart into a new boot (new boot id) between reading and sending: the
// old boot's readings are not given the new boot's offset; they keep their
// own time, marked.
func TestRestartIntoNewBootKeepsOldReadingsApart(t *testing.T) {
	pki := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
	broker := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki})
	sub := broker.Subscribe(t, "Kai/sensors/#", mosquittotest.SubOpts{Persistent: true})
	broker.Stop() // the first boot never reaches the broker
	stateDir := t.TempDir()
	cfg := clockConfig(t, broker, pki, stateDir)
	cfg.Clock.HoldUnsynced = 0
	counter := newCountingSensor()
	first := &clock.Skewed{Base: &clock.System{}, Start: time.Now(), Behind: 72 * time.Hour, SyncAfter: -1, Boot: [16]byte{3}}
	r := startDaemon(t, Opts{Config: cfg, Clock: first, OpenSensor: counter.open})
	testutil.Eventually(t, 10*time.Second, "20 readings in the outbox", func() bool { return r.d.outbox.Stats().Backlog >= 20 })
	r.stop(t)
	taken := counter.count()

	broker.Start()
	second := &clock.Skewed{Base: &clock.System{}, Start: time.Now(), SyncAfter: 0, Boot: [16]byte{4}}
	r = startDaemon(t, Opts{Config: cfg, Clock: second, OpenSensor: counter.open})
	deliveredThrough(t, sub, "Kai", uint64(taken), 20*time.Second)
	r.stop(t)
	sub.Sync()
	for _, s := range stampedReadings(t, sub.Messages()) {
		if s.N > taken {
			continue
		}
		want := counter.trueTime(s.N).Add(-72 * time.Hour)
		if d := s.Time.Sub(want); d.Abs() > 50*time.Millisecond || s.Synced {
			t.Errorf("first-boot reading %d: time %s, synced %v; want its own clock's %s, marked", s.N, s.Time.Format(time.RFC3339Nano), s.Synced, want.UTC().Format(time.RFC3339Nano))
		}
	}
}

// A Pi that boots at 1970 connects through the time floor: the broker's
// certificate is not "not yet valid", and readings are never earlier than
// the floor.
func TestBootAt1970ConnectsThroughTheFloor(t *testing.T) {
	pki := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
	broker := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki})
	sub := broker.Subscribe(t, "Kai/sensors/#", mosquittotest.SubOpts{Persistent: true})
	stateDir := t.TempDir()
	floor := time.Now().Truncate(time.Millisecond)
	// What an earlier run left behind.
	if err := os.WriteFile(filepath.Join(stateDir, clock.FloorFile), []byte(strconv.FormatInt(floor.UnixNano(), 10)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := clockConfig(t, broker, pki, stateDir)
	cfg.Clock.HoldUnsynced = 0
	epoch := &clock.Skewed{Base: &clock.System{}, Start: time.Now(), Behind: time.Since(time.Unix(0, 0)), SyncAfter: -1}
	logger, logs := capturingLogger(t)
	startDaemon(t, Opts{Config: cfg, Clock: epoch, OpenSensor: newCountingSensor().open, Logger: logger})

	msgs := sub.WaitFor(20*time.Second, "readings of a 1970 clock", func(m []mosquittotest.Message) bool { return len(stampedReadings(t, m)) >= 5 })
	for _, s := range stampedReadings(t, msgs) {
		if s.Time.Before(floor) || s.Synced {
			t.Errorf("reading %d: time %s, synced %v; want at or after the floor %s, marked", s.N, s.Time.Format(time.RFC3339Nano), s.Synced, floor.UTC().Format(time.RFC3339Nano))
		}
	}
	if !strings.Contains(logs.String(), "behind the time floor") {
		t.Error("the floor was not logged")
	}
}
