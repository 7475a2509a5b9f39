package clock

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Recorded adjtimex(2) answers. The status words are the ones `adjtimex
// --print` (Debian's adjtimex package) shows in each situation; the state
// follows the man page's rule that TIME_ERROR is returned while STA_UNSYNC
// (0x40) is set.
var recorded = []struct {
	name   string
	state  int
	status int32
	synced bool
}{
	// Fresh boot, no time daemon yet: the kernel's initial status.
	{"boot, no daemon", unix.TIME_ERROR, 0x0040, false},
	// systemd-timesyncd after its first sync sets status STA_PLL with
	// ADJ_NANO (timesyncd-manager.c, manager_adjust_clock): STA_PLL|STA_NANO.
	{"timesyncd synced", unix.TIME_OK, 0x2001, true},
	// ntpd synced in microsecond mode: STA_PLL alone.
	{"ntpd synced", unix.TIME_OK, 0x0001, true},
	// ntpd lost its servers long enough for maxerror to pass 16 s: the
	// kernel set STA_UNSYNC again.
	{"daemon lost sync", unix.TIME_ERROR, 0x2041, false},
	// A leap second announced while synced: TIME_INS, still synced.
	{"leap second pending", unix.TIME_INS, 0x2011, true},
	// A hardware clock error flagged by the daemon.
	{"clock error", unix.TIME_ERROR, 0x1001, false},
}

func TestKernelSyncedOnRecordedStates(t *testing.T) {
	for _, r := range recorded {
		if got := KernelSynced(r.state, r.status); got != r.synced {
			t.Errorf("%s (state %d, status %#04x): synced %v, want %v", r.name, r.state, r.status, got, r.synced)
		}
	}
}

func TestDetectorPrefersKernelThenTimesyncd(t *testing.T) {
	dir := t.TempDir()
	flag := filepath.Join(dir, "synchronized")
	unsynced := func(tx *unix.Timex) (int, error) { tx.Status = unix.STA_UNSYNC; return unix.TIME_ERROR, nil }
	synced := func(tx *unix.Timex) (int, error) { tx.Status = unix.STA_PLL; return unix.TIME_OK, nil }
	denied := func(*unix.Timex) (int, error) { return 0, unix.EPERM }

	check := func(name string, d Detector, want SyncState, wantErr bool) {
		t.Helper()
		got, err := d.State()
		if got != want || (err != nil) != wantErr {
			t.Errorf("%s: %+v, %v; want %+v, error %v", name, got, err, want, wantErr)
		}
	}
	check("kernel synced", Detector{Adjtimex: synced, Flag: flag}, SyncState{true, "kernel"}, false)
	check("kernel unsynced, no flag", Detector{Adjtimex: unsynced, Flag: flag}, SyncState{false, "none"}, false)
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	check("kernel unsynced, timesyncd flag", Detector{Adjtimex: unsynced, Flag: flag}, SyncState{true, "timesyncd"}, false)
	check("adjtimex refused, flag", Detector{Adjtimex: denied, Flag: flag}, SyncState{true, "timesyncd"}, false)
	check("adjtimex refused, flag unreadable", Detector{Adjtimex: denied, Flag: filepath.Join(flag, "x")}, SyncState{false, "none"}, true)
}

func TestDetectorOnThisMachine(t *testing.T) {
	// Whatever the answer, asking must work for an ordinary process.
	if _, err := (Detector{}).State(); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("State: %v", err)
	}
}

func TestFloorKeepsTimeFromGoingBack(t *testing.T) {
	dir := t.TempDir()
	build := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	wall := time.Unix(0, 0) // a Pi that booted at 1970
	f := OpenFloor(dir, build, func() time.Time { return wall })
	if now, floored := f.Now(); !floored || !now.Equal(build) {
		t.Fatalf("1970 wall clock: Now = %v, floored %v; want the build time %v", now, floored, build)
	}
	wall = build.Add(72 * time.Hour) // NTP synced
	if now, floored := f.Now(); floored || !now.Equal(wall) {
		t.Fatalf("synced: Now = %v, floored %v; want %v", now, floored, wall)
	}
	if err := f.Persist(true); err != nil {
		t.Fatal(err)
	}
	// Next boot, clock back at 1970: the saved floor holds.
	wall = time.Unix(0, 0)
	g := OpenFloor(dir, build, func() time.Time { return wall })
	if now, _ := g.Now(); !now.Equal(build.Add(72 * time.Hour)) {
		t.Fatalf("after restart: Now = %v, want the persisted %v", now, build.Add(72*time.Hour))
	}
}

func TestFloorPersistsRarely(t *testing.T) {
	dir := t.TempDir()
	start := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	wall := start
	f := OpenFloor(dir, time.Time{}, func() time.Time { return wall })
	f.Now()
	if err := f.Persist(false); err != nil {
		t.Fatal(err)
	}
	saved := func() time.Time {
		got, err := readFloor(filepath.Join(dir, FloorFile))
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if !saved().Equal(start) {
		t.Fatalf("first persist wrote %v, want %v", saved(), start)
	}
	wall = start.Add(10 * time.Minute)
	f.Now()
	f.Persist(false)
	if !saved().Equal(start) {
		t.Errorf("persisted again after 10 minutes: SD-card writes should be hourly")
	}
	wall = start.Add(persistEvery)
	f.Now()
	f.Persist(false)
	if !saved().Equal(wall) {
		t.Errorf("not persisted after an hour: file has %v, want %v", saved(), wall)
	}
}

func TestFloorIgnoresACorruptFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FloorFile), []byte("garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	build := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	f := OpenFloor(dir, build, func() time.Time { return time.Unix(0, 0) })
	if now, _ := f.Now(); !now.Equal(build) {
		t.Errorf("Now = %v, want the build time %v", now, build)
	}
}
