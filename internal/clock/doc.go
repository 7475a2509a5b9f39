// Package clock tells whether the wall clock can be trusted and keeps it
// from running backwards past what edgepub has already seen.
//
// A Raspberry Pi has no real-time clock: it boots with the time of its last
// shutdown (fake-hwclock) or with 1970 and keeps it until NTP syncs, which
// without a network can take days. Two things follow.
//
//   - Sync state. The kernel knows whether a time daemon disciplines the
//     clock: adjtimex(2) returns TIME_ERROR, and sets STA_UNSYNC, until one
//     does (chrony, ntpd and systemd-timesyncd all clear it). timesyncd also
//     touches /run/systemd/timesync/synchronized after each sync (a tmpfs
//     file, so it only speaks for this boot). Either is taken as synced.
//   - A floor. A wall clock earlier than the newest time edgepub has seen,
//     or than the commit it was built from, is certainly wrong. Floor.Now
//     returns the later of the two, so certificate checks and reading times
//     never go back to 1970; it is persisted in the state dir.
//
// The readings taken before a sync are repaired later from their monotonic
// time and boot id (see the message package); this package only supplies
// the facts.
package clock
