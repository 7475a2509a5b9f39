package clock

import (
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// A Source is the machine's clocks as the daemon sees them.
type Source interface {
	// Wall is the wall clock, right or wrong.
	Wall() time.Time
	// SinceBoot is CLOCK_BOOTTIME: steady, and counted from this boot.
	SinceBoot() time.Duration
	// BootID identifies this boot.
	BootID() [16]byte
	// Synced reports whether the wall clock is synced.
	Synced() (SyncState, error)
}

// System is the real machine.
type System struct {
	Detector Detector

	once   sync.Once
	bootID [16]byte
}

// Wall is time.Now.
func (*System) Wall() time.Time { return time.Now() }

// SinceBoot reads CLOCK_BOOTTIME.
func (*System) SinceBoot() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0 // not on Linux ≥ 2.6.39: readings are then never repaired
	}
	return time.Duration(ts.Nano())
}

// BootID reads /proc/sys/kernel/random/boot_id once; without it, every run
// counts as its own boot (zero id), so no repair crosses a restart.
func (s *System) BootID() [16]byte {
	s.once.Do(func() {
		data, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
		if err == nil {
			s.bootID, _ = ParseBootID(string(data))
		}
	})
	return s.bootID
}

// Synced asks the Detector.
func (s *System) Synced() (SyncState, error) { return s.Detector.State() }

// ParseBootID reads a boot id as the kernel writes it (a UUID).
func ParseBootID(s string) ([16]byte, error) {
	var id [16]byte
	h := strings.ReplaceAll(strings.TrimSpace(s), "-", "")
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 16 {
		return id, fmt.Errorf("boot id %q is not a UUID", s)
	}
	copy(id[:], b)
	return id, nil
}

// Skewed is a Source for tests and debugging: the wall clock runs Behind the
// real one and counts as unsynced until SyncAfter has passed since Start
// (never, if SyncAfter is negative); then it is the real clock, synced. A
// non-zero BootID pretends a boot at Start with that id.
type Skewed struct {
	Base      Source
	Start     time.Time
	Behind    time.Duration
	SyncAfter time.Duration
	Boot      [16]byte
}

func (s *Skewed) synced() bool {
	return s.SyncAfter >= 0 && s.Base.Wall().Sub(s.Start) >= s.SyncAfter
}

// Wall is the real clock minus Behind until synced.
func (s *Skewed) Wall() time.Time {
	if s.synced() {
		return s.Base.Wall()
	}
	return s.Base.Wall().Add(-s.Behind)
}

// SinceBoot counts from Start when the Skewed has its own boot id.
func (s *Skewed) SinceBoot() time.Duration {
	if s.Boot != ([16]byte{}) {
		return s.Base.Wall().Sub(s.Start)
	}
	return s.Base.SinceBoot()
}

// BootID is Boot, or the real one.
func (s *Skewed) BootID() [16]byte {
	if s.Boot != ([16]byte{}) {
		return s.Boot
	}
	return s.Base.BootID()
}

// Synced follows SyncAfter alone.
func (s *Skewed) Synced() (SyncState, error) {
	if s.synced() {
		return SyncState{Synced: true, Source: "test"}, nil
	}
	return SyncState{Source: "none"}, nil
}
