package clock

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/edgepub/edgepub/internal/testutil"
	"github.com/edgepub/edgepub/message"
)

// fakeSource is a machine whose clocks the test sets.
type fakeSource struct {
	mu        sync.Mutex
	wall      time.Time
	sinceBoot time.Duration
	boot      [16]byte
	synced    bool
}

func (f *fakeSource) Wall() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.wall }
func (f *fakeSource) SinceBoot() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sinceBoot
}
func (f *fakeSource) BootID() [16]byte { return f.boot }
func (f *fakeSource) Synced() (SyncState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return SyncState{Synced: f.synced, Source: "test"}, nil
}

// advance moves both clocks on by d; with sync, the wall clock is set right
// (to trueBoot + sinceBoot) and reported synced, as NTP would.
func (f *fakeSource) advance(d time.Duration, sync bool, trueBoot time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sinceBoot += d
	f.wall = f.wall.Add(d)
	if sync {
		f.wall, f.synced = trueBoot.Add(f.sinceBoot), true
	}
}

func payloadAt(t time.Time) []byte {
	return []byte(`{"device":"Kai","sensor":"env","seq":1,"time":"` + t.UTC().Format(message.TimeLayout) + `","temperature_c":20}`)
}

func decode(t *testing.T, payload []byte) (time.Time, bool) {
	t.Helper()
	var v struct {
		Time   time.Time `json:"time"`
		Synced *bool     `json:"time_synced"`
	}
	if err := json.Unmarshal(payload, &v); err != nil {
		t.Fatalf("%s: %v", payload, err)
	}
	return v.Time, v.Synced == nil
}

var (
	bootA    = [16]byte{0xa}
	bootB    = [16]byte{0xb}
	trueBoot = time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
)

// A reading taken 5 s after boot with the clock 3 days behind is sent after
// the sync with its true time, to the millisecond.
func TestStampRepairsReadingsOfASyncedBoot(t *testing.T) {
	src := &fakeSource{wall: trueBoot.Add(-72 * time.Hour), boot: bootA}
	tr := NewTracker(TrackerOpts{Source: src, StateDir: t.TempDir()})
	src.advance(5*time.Second+123*time.Millisecond, false, trueBoot)
	taken := tr.Taken(src.SinceBoot())
	frame := message.Framed{Payload: payloadAt(src.Wall()), Taken: taken, HasTaken: true}

	if got, synced := decode(t, tr.Stamp(frame)); synced || !got.Equal(src.Wall().Truncate(time.Millisecond)) {
		t.Errorf("before the sync: time %v synced %v; want the wrong time, marked", got, synced)
	}
	src.advance(20*time.Second, true, trueBoot)
	tr.poll(true)
	got, synced := decode(t, tr.Stamp(frame))
	if want := trueBoot.Add(5*time.Second + 123*time.Millisecond); !synced || !got.Equal(want) {
		t.Errorf("after the sync: time %v synced %v; want %v, unmarked", got, synced, want)
	}
	// A reading taken while synced is sent as it was.
	live := message.Framed{Payload: payloadAt(src.Wall()), Taken: tr.Taken(src.SinceBoot()), HasTaken: true}
	if string(tr.Stamp(live)) != string(live.Payload) {
		t.Errorf("a synced reading was changed: %s", tr.Stamp(live))
	}
}

// A restart into a new boot must not give the old boot's readings the new
// boot's offset: they were taken on another time line.
func TestStampNeverCrossesBoots(t *testing.T) {
	dir := t.TempDir()
	old := &fakeSource{wall: trueBoot.Add(-72 * time.Hour), boot: bootA}
	tr := NewTracker(TrackerOpts{Source: old, StateDir: dir})
	old.advance(10*time.Second, false, trueBoot)
	frame := message.Framed{Payload: payloadAt(old.Wall()), Taken: tr.Taken(old.SinceBoot()), HasTaken: true}

	next := &fakeSource{wall: trueBoot.Add(time.Hour), sinceBoot: 3 * time.Second, boot: bootB, synced: true}
	tr2 := NewTracker(TrackerOpts{Source: next, StateDir: dir})
	got, synced := decode(t, tr2.Stamp(frame))
	if synced || !got.Equal(old.Wall()) {
		t.Errorf("old boot's reading after restart: time %v synced %v; want its own time %v, marked", got, synced, old.Wall())
	}
}

// The boot's true time is kept in the state dir: a restart of edgepub in
// the same boot still repairs what the first run took before the sync.
func TestStampAfterRestartInTheSameBoot(t *testing.T) {
	dir := t.TempDir()
	src := &fakeSource{wall: trueBoot.Add(-72 * time.Hour), boot: bootA}
	tr := NewTracker(TrackerOpts{Source: src, StateDir: dir})
	src.advance(2*time.Second, false, trueBoot)
	frame := message.Framed{Payload: payloadAt(src.Wall()), Taken: tr.Taken(src.SinceBoot()), HasTaken: true}
	src.advance(time.Second, true, trueBoot)
	tr.poll(true)

	again := NewTracker(TrackerOpts{Source: &fakeSource{wall: src.Wall(), sinceBoot: src.SinceBoot(), boot: bootA}, StateDir: dir})
	if got, synced := decode(t, again.Stamp(frame)); !synced || !got.Equal(trueBoot.Add(2*time.Second)) {
		t.Errorf("after restart: time %v synced %v; want %v", got, synced, trueBoot.Add(2*time.Second))
	}
}

func TestGateHoldsUntilSyncOrHoldEnds(t *testing.T) {
	src := &fakeSource{wall: trueBoot.Add(-72 * time.Hour), sinceBoot: 10 * time.Second, boot: bootA}
	tr := NewTracker(TrackerOpts{Source: src, HoldUnsynced: 2 * time.Minute})
	open, changed := tr.Open()
	if open {
		t.Fatal("gate open 10 s after boot with the clock unsynced")
	}
	src.advance(time.Second, true, trueBoot)
	tr.poll(true)
	select {
	case <-changed:
	default:
		t.Fatal("the sync did not signal the gate")
	}
	if open, _ := tr.Open(); !open {
		t.Fatal("gate closed after the sync")
	}

	// Never synced: the gate opens when the hold has passed since boot.
	src = &fakeSource{wall: trueBoot, sinceBoot: 10 * time.Second, boot: bootB}
	tr = NewTracker(TrackerOpts{Source: src, HoldUnsynced: 2 * time.Minute})
	src.advance(109*time.Second, false, trueBoot)
	tr.poll(true)
	if open, _ := tr.Open(); open {
		t.Fatal("gate open before the hold ended")
	}
	src.advance(time.Second, false, trueBoot)
	tr.poll(true)
	if open, _ := tr.Open(); !open {
		t.Fatal("gate still closed when the hold ended")
	}
	// Started long after boot: nothing to wait for.
	late := NewTracker(TrackerOpts{Source: &fakeSource{sinceBoot: time.Hour}, HoldUnsynced: 2 * time.Minute})
	if open, _ := late.Open(); !open {
		t.Fatal("gate closed an hour after boot")
	}
}

// Frames written before frames carried Taken go out as they are.
func TestStampLeavesOldFramesAlone(t *testing.T) {
	tr := NewTracker(TrackerOpts{Source: &fakeSource{boot: bootA}})
	f := message.Framed{Payload: payloadAt(trueBoot)}
	if got := tr.Stamp(f); string(got) != string(f.Payload) {
		t.Errorf("got %s", got)
	}
}

// Start polls on a timer: an unsynced clock is polled every 30 s, the
// sync is seen at the next poll, and the loop then ends by itself, without
// ctx being cancelled; cancelling ctx ends an unsynced one.
func TestStartPollsUntilSynced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &fakeSource{wall: trueBoot, sinceBoot: time.Hour, boot: bootA}
		tr := NewTracker(TrackerOpts{Source: src})
		loop := tr.Start(t.Context())
		time.Sleep(pollUnsynced + time.Second)
		synctest.Wait()
		if tr.Synced() {
			t.Fatal("synced before the clock was")
		}
		src.advance(time.Second, true, trueBoot)
		time.Sleep(pollUnsynced)
		synctest.Wait()
		if !tr.Synced() {
			t.Fatal("the sync was not seen at the next poll")
		}
		if !testutil.Closed(loop.Done()) {
			t.Fatal("loop still running after the sync")
		}

		ctx, cancel := context.WithCancel(t.Context())
		unsynced := NewTracker(TrackerOpts{Source: &fakeSource{wall: trueBoot, sinceBoot: time.Hour, boot: bootB}})
		loop = unsynced.Start(ctx)
		cancel()
		synctest.Wait()
		if !testutil.Closed(loop.Done()) {
			t.Fatal("loop still running after ctx was cancelled")
		}
	})
}
