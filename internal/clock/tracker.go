package clock

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/edgepub/edgepub/internal/logging"
	"github.com/edgepub/edgepub/internal/periodic"
	"github.com/edgepub/edgepub/message"
)

// BootsFile lists, per boot whose clock synced, the true wall time of that
// boot: what repairs that boot's readings even after a restart.
const BootsFile = "clock-boots"

// keepBoots bounds BootsFile; readings older than that many boots are not
// repaired but marked.
const keepBoots = 16

// Poll intervals: often while publishing is held for the sync, rarely after.
const (
	pollHeld     = time.Second
	pollUnsynced = 30 * time.Second
)

// TrackerOpts configures a Tracker.
type TrackerOpts struct {
	Source Source
	// Wall is the clock readings are stamped with (the Floor's); nil means
	// Source.Wall.
	Wall func() time.Time
	// StateDir keeps BootsFile; empty keeps it in memory only.
	StateDir string
	// HoldUnsynced holds publishing while the clock is unsynced and less
	// than this has passed since boot; 0 does not hold.
	HoldUnsynced time.Duration
	Logger       *slog.Logger
}

// Tracker follows the clock's sync state for the daemon. When the clock
// syncs it learns the true wall time of the boot, which repairs every
// reading of that boot taken before (Stamp); until then, for HoldUnsynced
// after boot, it holds publishing (Open), since NTP usually arrives a few
// seconds after the network.
type Tracker struct {
	opts TrackerOpts
	boot [16]byte

	mu      sync.Mutex
	synced  bool
	source  string
	held    bool
	boots   map[[16]byte]time.Time // boot id → true wall time at boot
	order   [][16]byte             // boots, oldest first
	changed chan struct{}
}

// NewTracker asks the clock once and reads BootsFile.
func NewTracker(o TrackerOpts) *Tracker {
	if o.Wall == nil {
		o.Wall = o.Source.Wall
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	t := &Tracker{opts: o, boot: o.Source.BootID(), boots: map[[16]byte]time.Time{}, changed: make(chan struct{})}
	t.load()
	t.held = o.HoldUnsynced > 0 && o.Source.SinceBoot() < o.HoldUnsynced
	t.poll(false)
	return t
}

// Synced reports whether the clock is synced now.
func (t *Tracker) Synced() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.synced
}

// Taken describes a reading taken now.
func (t *Tracker) Taken(sinceBoot time.Duration) message.Taken {
	return message.Taken{BootID: t.boot, SinceBoot: sinceBoot, Synced: t.Synced()}
}

// Open is the publisher's gate: closed while the clock is unsynced within
// HoldUnsynced of boot.
func (t *Tracker) Open() (bool, <-chan struct{}) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return !t.held, t.changed
}

// Stamp gives the payload to send for f: as it was if the clock was synced
// when the reading was taken; with the repaired time if its boot's clock
// has synced since; else marked time_synced:false.
func (t *Tracker) Stamp(f message.Framed) []byte {
	if !f.HasTaken || f.Taken.Synced {
		return f.Payload
	}
	t.mu.Lock()
	booted, ok := t.boots[f.Taken.BootID]
	t.mu.Unlock()
	if ok && f.Taken.BootID != ([16]byte{}) {
		return message.Restamp(f.Payload, booted.Add(f.Taken.SinceBoot))
	}
	return message.MarkUnsynced(f.Payload)
}

// Run polls the clock until ctx is done: every second while publishing is
// held, every 30 s while unsynced after that, and not at all once synced.
func (t *Tracker) Run(ctx context.Context) { t.Start(ctx).Wait() }

// Start is Run on a timer: it returns at once, and between polls no
// goroutine waits. The loop ends once synced or when ctx is done.
func (t *Tracker) Start(ctx context.Context) *periodic.Loop {
	first, _ := t.nextPoll()
	return periodic.Start(ctx, first, func(context.Context) (time.Duration, bool) {
		if t.Synced() {
			return 0, false
		}
		t.poll(true)
		return t.nextPoll()
	})
}

// nextPoll is the delay until the next poll; again is false once synced.
func (t *Tracker) nextPoll() (next time.Duration, again bool) {
	t.mu.Lock()
	synced, held := t.synced, t.held
	t.mu.Unlock()
	if synced {
		return 0, false
	}
	every := pollUnsynced
	if held {
		every = min(pollHeld, t.opts.HoldUnsynced-t.opts.Source.SinceBoot())
	}
	return max(every, time.Millisecond), true
}

// poll asks the clock; announce logs the transitions (not at start, where
// they are no news).
func (t *Tracker) poll(announce bool) {
	state, err := t.opts.Source.Synced()
	sinceBoot := t.opts.Source.SinceBoot()
	wall := t.opts.Wall()

	t.mu.Lock()
	defer t.mu.Unlock()
	changed := false
	if state.Synced && !t.synced {
		t.synced, t.source, changed = true, state.Source, true
		// Wall and boot time read together give the boot's true wall time:
		// exact, whatever the clock said before.
		t.remember(t.boot, wall.Add(-sinceBoot))
		if announce {
			t.opts.Logger.Info("clock synced: readings taken before are sent with their repaired time",
				"source", state.Source, "since_boot", sinceBoot.Round(time.Millisecond).String(),
				logging.MessageID(logging.MsgClockSynced))
		}
	}
	if err != nil && !state.Synced {
		t.opts.Logger.Debug("clock sync state unknown", "error", err)
	}
	if t.held && (t.synced || sinceBoot >= t.opts.HoldUnsynced) {
		t.held, changed = false, true
		if !t.synced && announce {
			t.opts.Logger.Warn("clock still not synced "+t.opts.HoldUnsynced.String()+" after boot: sending readings marked time_synced:false; check the time service (timedatectl timesync-status)",
				logging.MessageID(logging.MsgClockUnsynced))
		}
	}
	if changed {
		close(t.changed)
		t.changed = make(chan struct{})
	}
}

// remember records a boot's true wall time and saves the list.
func (t *Tracker) remember(id [16]byte, booted time.Time) {
	if prev, ok := t.boots[id]; ok && prev.Sub(booted).Abs() < time.Second {
		return // known from an earlier run in this boot
	}
	if _, ok := t.boots[id]; !ok {
		t.order = append(t.order, id)
	}
	t.boots[id] = booted
	for len(t.order) > keepBoots {
		delete(t.boots, t.order[0])
		t.order = t.order[1:]
	}
	if t.opts.StateDir == "" {
		return
	}
	var b strings.Builder
	for _, id := range t.order {
		fmt.Fprintf(&b, "%x %d\n", id, t.boots[id].UnixNano())
	}
	path := filepath.Join(t.opts.StateDir, BootsFile)
	if err := writeAtomic(path, []byte(b.String())); err != nil {
		t.opts.Logger.Warn("cannot save the clock's boot times: readings of this boot are not repaired after a restart", "file", path, "error", err)
	}
}

func (t *Tracker) load() {
	if t.opts.StateDir == "" {
		return
	}
	f, err := os.Open(filepath.Join(t.opts.StateDir, BootsFile))
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		idHex, nsText, ok := strings.Cut(sc.Text(), " ")
		raw, err1 := hex.DecodeString(idHex)
		ns, err2 := strconv.ParseInt(nsText, 10, 64)
		if !ok || err1 != nil || err2 != nil || len(raw) != 16 {
			continue // a torn line only loses one boot's repair
		}
		var id [16]byte
		copy(id[:], raw)
		if _, dup := t.boots[id]; !dup {
			t.order = append(t.order, id)
		}
		t.boots[id] = time.Unix(0, ns)
	}
}

// writeAtomic replaces path with data: write, fsync, rename. The boot list
// is written once per boot, so the fsync costs nothing worth saving.
func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
