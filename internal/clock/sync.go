package clock

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// TimesyncdFlag is the file systemd-timesyncd touches after each sync.
const TimesyncdFlag = "/run/systemd/timesync/synchronized"

// SyncState is what the system says about its clock.
type SyncState struct {
	Synced bool
	// Source names what said so: "kernel", "timesyncd" or "none".
	Source string
}

// KernelSynced interprets an adjtimex(2) answer: state is its return value,
// status the Timex.Status it filled in. Per the man page the kernel returns
// TIME_ERROR whenever STA_UNSYNC or STA_CLOCKERR is set, among other PPS
// cases; STA_UNSYNC is also checked on its own, as it is what a time daemon
// clears.
func KernelSynced(state int, status int32) bool {
	return state != unix.TIME_ERROR && status&(unix.STA_UNSYNC|unix.STA_CLOCKERR) == 0
}

// Detector reads the sync state from the kernel and systemd-timesyncd.
type Detector struct {
	// Adjtimex queries the kernel; nil means unix.Adjtimex.
	Adjtimex func(*unix.Timex) (int, error)
	// Flag is timesyncd's file; empty means TimesyncdFlag.
	Flag string
}

// State asks the kernel first, then timesyncd. An error means neither
// could be asked; the clock then counts as not synced.
func (d Detector) State() (SyncState, error) {
	adj := d.Adjtimex
	if adj == nil {
		adj = unix.Adjtimex
	}
	var tx unix.Timex // Modes 0: read only, allowed to any user
	state, kerr := adj(&tx)
	if kerr == nil && KernelSynced(state, tx.Status) {
		return SyncState{Synced: true, Source: "kernel"}, nil
	}
	flag := d.Flag
	if flag == "" {
		flag = TimesyncdFlag
	}
	_, ferr := os.Stat(flag)
	if ferr == nil {
		return SyncState{Synced: true, Source: "timesyncd"}, nil
	}
	if kerr != nil && !errors.Is(ferr, os.ErrNotExist) {
		return SyncState{Source: "none"}, fmt.Errorf("cannot tell whether the clock is synced: adjtimex: %w; %s: %w", kerr, flag, ferr)
	}
	return SyncState{Source: "none"}, nil
}
