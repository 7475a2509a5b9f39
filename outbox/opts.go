package outbox

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"
)

// Opts configures an Outbox. The zero value of every field means its default;
// a nil *Opts means all defaults.
type Opts struct {
	// MaxBytes caps the bytes the outbox keeps on disk; default 64 MiB. When
	// the cap is reached the oldest segment is dropped: the oldest readings
	// are lost, never the newest, and appending never stops.
	MaxBytes int64
	// MaxAge drops readings older than this; 0 keeps them until MaxBytes
	// forces them out.
	MaxAge time.Duration
	// SyncWindow bounds how long an unacknowledged reading stays only in the
	// page cache; default 1 s. A power cut loses at most the readings of the
	// last SyncWindow that the broker had not acknowledged.
	SyncWindow time.Duration
	// SegmentBytes is the size at which a segment file is closed and a new
	// one started; default 1 MiB, at most MaxBytes/8 so that dropping one
	// segment at the cap frees at most an eighth of the backlog.
	SegmentBytes int64
	// MemoryLimit is how many readings are held in memory while the disk
	// fails; default 10000. Beyond it the oldest are dropped.
	MemoryLimit int
	// Logger receives the outbox's events; default discards them.
	Logger *slog.Logger
	// BootID returns an id that changes on every boot; default reads
	// /proc/sys/kernel/random/boot_id. A changed id tells Open that the page
	// cache may have been lost, so it resumes seq from the fsynced lease.
	BootID func() (string, error)
}

// Defaults, exported so callers can show them in config documentation.
const (
	DefaultMaxBytes     = 64 << 20
	DefaultSyncWindow   = time.Second
	DefaultSegmentBytes = 1 << 20
	DefaultMemoryLimit  = 10000
)

const (
	// minSegmentBytes keeps segments large enough that a full-size record
	// header plus a typical reading fits many times.
	minSegmentBytes = 4 << 10
	// maxSegmentBytes keeps record offsets small and recovery reads bounded.
	maxSegmentBytes = 1 << 30
)

// ErrInvalidOpts is wrapped by every error Open returns for bad Opts.
var ErrInvalidOpts = errors.New("invalid outbox options")

// withDefaults validates opts and returns a copy with defaults filled in.
func (opts *Opts) withDefaults() (Opts, error) {
	var o Opts
	if opts != nil {
		o = *opts
	}
	if o.MaxBytes < 0 || o.MaxAge < 0 || o.SyncWindow < 0 || o.SegmentBytes < 0 || o.MemoryLimit < 0 {
		return o, fmt.Errorf("%w: sizes and durations must not be negative", ErrInvalidOpts)
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxBytes < 8*minSegmentBytes {
		return o, fmt.Errorf("%w: max bytes %d is below the minimum %d", ErrInvalidOpts, o.MaxBytes, 8*minSegmentBytes)
	}
	if o.SegmentBytes == 0 {
		o.SegmentBytes = min(int64(DefaultSegmentBytes), o.MaxBytes/8)
	}
	if o.SegmentBytes < minSegmentBytes || o.SegmentBytes > maxSegmentBytes || o.SegmentBytes > o.MaxBytes/8 {
		return o, fmt.Errorf("%w: segment bytes %d must be between %d and max bytes/8 (%d)",
			ErrInvalidOpts, o.SegmentBytes, minSegmentBytes, min(o.MaxBytes/8, maxSegmentBytes))
	}
	if o.SyncWindow == 0 {
		o.SyncWindow = DefaultSyncWindow
	}
	if o.SyncWindow < 10*time.Millisecond {
		return o, fmt.Errorf("%w: sync window %v is below 10ms", ErrInvalidOpts, o.SyncWindow)
	}
	if o.MemoryLimit == 0 {
		o.MemoryLimit = DefaultMemoryLimit
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.BootID == nil {
		o.BootID = kernelBootID
	}
	return o, nil
}

// kernelBootID reads the id Linux draws anew on every boot.
func kernelBootID() (string, error) {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "", fmt.Errorf("read boot id: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}
