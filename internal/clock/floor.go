package clock

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
)

// FloorFile is the floor's file in the state dir.
const FloorFile = "clock-floor"

// persistEvery bounds how often the floor is written: an hour of lag costs
// nothing (the floor only needs to beat 1970 and stale fake-hwclock dates),
// and an SD card is spared a write a minute.
const persistEvery = time.Hour

// Floor is the earliest the wall clock can truly be: the newest time seen in
// earlier runs or this one, or the build's commit time.
type Floor struct {
	path string
	wall func() time.Time

	mu        sync.Mutex
	floor     time.Time
	persisted time.Time
}

// OpenFloor reads the floor persisted in stateDir (if any) and raises it to
// build. wall is the system clock (nil: time.Now). A missing or unreadable
// file only means a lower floor.
func OpenFloor(stateDir string, build time.Time, wall func() time.Time) *Floor {
	if wall == nil {
		wall = time.Now
	}
	f := &Floor{wall: wall, floor: build}
	if stateDir != "" {
		f.path = filepath.Join(stateDir, FloorFile)
		if saved, err := readFloor(f.path); err == nil && saved.After(f.floor) {
			f.floor, f.persisted = saved, saved
		}
	}
	return f
}

func readFloor(path string) (time.Time, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return time.Time{}, err
	}
	ns, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %w", path, err)
	}
	return time.Unix(0, ns), nil
}

// Now returns the wall clock, or the floor where the wall clock is behind
// it, and whether the floor was applied. A wall clock ahead of the floor
// raises it.
func (f *Floor) Now() (now time.Time, floored bool) {
	wall := f.wall()
	f.mu.Lock()
	defer f.mu.Unlock()
	if wall.Before(f.floor) {
		return f.floor, true
	}
	f.floor = wall
	return wall, false
}

// Time is Now without the flag, for the places that take a clock function.
func (f *Floor) Time() time.Time {
	t, _ := f.Now()
	return t
}

// Persist writes the floor if it moved on by persistEvery since the last
// write, or always with force (at shutdown). The write is atomic; it is
// not fsynced, as losing it only lowers the next floor a little.
func (f *Floor) Persist(force bool) error {
	f.mu.Lock()
	floor, last := f.floor, f.persisted
	f.mu.Unlock()
	if f.path == "" || (!force && floor.Sub(last) < persistEvery) || !floor.After(last) {
		return nil
	}
	tmp := f.path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.FormatInt(floor.UnixNano(), 10)+"\n"), 0o600); err != nil {
		return fmt.Errorf("save the clock floor: %w", err)
	}
	if err := os.Rename(tmp, f.path); err != nil {
		return fmt.Errorf("save the clock floor: %w", err)
	}
	f.mu.Lock()
	f.persisted = floor
	f.mu.Unlock()
	return nil
}

// BuildTime is the commit time the Go toolchain stamped into the binary
// (vcs.time), or the zero time for a build outside a checkout.
func BuildTime() time.Time {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return time.Time{}
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.time" {
			t, err := time.Parse(time.RFC3339, s.Value)
			if err == nil {
				return t
			}
		}
	}
	return time.Time{}
}
