package outbox

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/edgepub/edgepub/internal/logging"
	"github.com/edgepub/edgepub/internal/periodic"
)

const (
	// retryEvery is how often a failed disk is tried again.
	retryEvery = 5 * time.Second
	// slowSyncQuiet is how long fsyncs stay within SyncWindow before a
	// stretch of slow ones is over: a short window on a busy disk would
	// otherwise start and end one every few seconds.
	slowSyncQuiet = time.Minute
)

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("outbox is closed")

// Outbox is a durable, seq-numbering queue of readings on disk. It is safe
// for concurrent use.
//
// It is made of three parts: the seq lease hands out seqs below a durable
// ceiling and has its own locks; the segment log holds the readings on disk
// and the memory fallback holds them while the disk fails. Those two are
// one queue in seq order (every seq in memory is above every seq on disk),
// so the Outbox's mu guards both, with whether the disk is in use.
type Outbox struct {
	dir       string
	opts      Opts
	log       *slog.Logger
	notify    chan struct{}
	tickEvery time.Duration
	seq       *seqLease

	mu sync.Mutex
	// ticks is Start's loop, nil before: Append moves its next tick to
	// tickEvery when it leaves the first record that may need an fsync.
	ticks    *periodic.Loop
	closed   bool
	lockFile *os.File
	scanned  bool
	disk     segmentLog
	mem      memFallback
	// diskErr is why the disk is not in use; diskPermanent means retrying
	// cannot help before a restart.
	diskErr       error
	diskPermanent bool
	lastRetry     time.Time
	// droppedAge counts readings dropped for their age, from either part.
	droppedAge uint64
	aged       episode
	// skipped is the seq range Open skipped, for Stats.
	skipped SeqRange
	// syncFile fsyncs a segment; tests replace it with a slow one.
	syncFile func(*os.File) error
	slowSync slowSyncEpisode
}

// slowSyncEpisode tracks a stretch of fsyncs slower than SyncWindow so it is
// logged once at its start and once at its end, a minute after the last.
type slowSyncEpisode struct {
	active  bool
	count   uint64
	slowest time.Duration
	last    time.Time
}

// Stats is a snapshot of the outbox.
type Stats struct {
	// Backlog counts readings not yet acknowledged by the broker.
	Backlog int
	// InMemory counts the readings of Backlog held only in memory because
	// the disk fails.
	InMemory int
	// Bytes is the size of the segment files on disk.
	Bytes int64
	// Segments counts segment files.
	Segments int
	// Oldest is the time of the oldest reading in Backlog; zero when empty.
	Oldest time.Time
	// LastSeq is the last seq handed out; 0 before the first reading.
	LastSeq uint64
	// Dropped counts readings lost for any reason: the sum of the four
	// counters below.
	Dropped uint64
	// DroppedFull counts readings dropped because MaxBytes was reached.
	DroppedFull uint64
	// DroppedAge counts readings dropped because they exceeded MaxAge.
	DroppedAge uint64
	// DroppedMemory counts readings dropped beyond MemoryLimit while the
	// disk failed.
	DroppedMemory uint64
	// Damaged counts readings lost to damaged storage.
	Damaged uint64
	// OpenDamage is what Open found damaged in the dir.
	OpenDamage Damage
	// Skipped is the seq range Open skipped (see logJump); zero when seq
	// continued without a jump.
	Skipped SeqRange
	// Syncs counts fsyncs of record data. It stays 0 while the broker
	// acknowledges every reading within SyncWindow.
	Syncs uint64
	// DiskErr is nil while the disk works; otherwise readings go to memory.
	DiskErr error
}

// Open opens or creates the outbox in dir. Damaged content never stops it:
// intact records are kept, damage is logged once. When dir cannot be used it
// returns an outbox that keeps readings in memory, with Stats().DiskErr set,
// and retries the disk from Run. It fails for invalid opts and for a dir it
// refuses (ErrRefused): one whose seq would wrap, or, as root, one another
// user could change.
func Open(dir string, opts *Opts) (*Outbox, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if dir == "" {
		return nil, fmt.Errorf("%w: dir is empty", ErrInvalidOpts)
	}
	ob := &Outbox{
		dir:       dir,
		opts:      o,
		log:       o.Logger,
		notify:    make(chan struct{}, 1),
		tickEvery: min(max(o.SyncWindow/4, 10*time.Millisecond), 250*time.Millisecond),
		syncFile:  (*os.File).Sync,
	}
	ob.disk = segmentLog{dir: dir, opts: &ob.opts, logger: o.Logger, tickEvery: ob.tickEvery}
	ob.mem = memFallback{dir: dir, limit: o.MemoryLimit, logger: o.Logger}
	bootID, err := o.BootID()
	if err != nil {
		ob.log.Warn("cannot tell reboots apart, so seq will jump on every start", slog.Any("error", err))
	}
	ob.seq = newSeqLease(dir, bootID)

	ob.mu.Lock()
	defer ob.mu.Unlock()
	if err := ob.attachLocked(); err != nil {
		if errors.Is(err, ErrRefused) {
			if ob.lockFile != nil {
				ob.lockFile.Close()
			}
			return nil, fmt.Errorf("outbox dir %s: %w", dir, err)
		}
		ob.enterDiskErrorLocked(err)
	}
	if ob.diskErr == nil && bootID != "" {
		ob.disk.syncRecovered()
	}
	return ob, nil
}

// attachLocked brings the disk into use: dir, lock, recovery, lease, a fresh
// active segment and the readings held in memory. It is used by Open and to
// retry a failed disk.
func (o *Outbox) attachLocked() error {
	mkdirErr := os.MkdirAll(o.dir, 0o700)
	if mkdirErr == nil {
		if err := checkOwner(o.dir); err != nil {
			o.diskPermanent = true
			return err
		}
	}
	var lockErr error
	if o.lockFile == nil && mkdirErr == nil {
		o.lockFile, lockErr = lockDir(o.dir)
		if errors.Is(lockErr, errDirInUse) {
			o.diskPermanent = true
			return lockErr
		}
	}
	if !o.scanned {
		if err := o.recoverLocked(); err != nil {
			if mkdirErr != nil {
				return mkdirErr
			}
			return err
		}
	}
	if mkdirErr != nil {
		return mkdirErr
	}
	if lockErr != nil {
		return lockErr
	}

	// Reserve seqs and mark whether the segments will tell the last seq:
	// not yet while readings wait in memory.
	if err := o.seq.reserveAhead(len(o.mem.recs) == 0); err != nil {
		return err
	}

	base := o.seq.peek()
	if i := o.mem.firstPending(); i >= 0 {
		base = o.mem.recs[i].seq
	}
	seg, err := o.disk.createSegment(base)
	if err != nil {
		return err
	}
	if err := o.disk.adopt(seg, o.mem.recs); err != nil {
		return err
	}
	o.mem.clear()
	return o.seq.setExact(true)
}

// Append assigns the next seq, lets encode build the payload that embeds it,
// and writes the record before returning: write(2) puts it in the page
// cache, which survives the death of the process. The fsync follows within
// SyncWindow unless the broker acknowledges the reading first. When encode
// fails the seq is not used up. encode runs under the outbox's lock, so it
// must not call the Outbox.
func (o *Outbox) Append(t time.Time, encode func(seq uint64) ([]byte, error)) (uint64, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return 0, ErrClosed
	}
	seq := o.seq.peek()
	if seq >= seqLimit {
		return 0, fmt.Errorf("outbox seq reached %d, the end of its range: move the outbox dir away and restart edgepub", seq)
	}
	if o.diskErr == nil || o.seq.isOpen() {
		// A seq may leave the outbox only below a durable ceiling, or a
		// power cut could hand it out a second time. While the disk fails
		// the lease, rewritten in place, may still work (a full disk).
		if err := o.seq.cover(seq); err != nil {
			o.enterDiskErrorLocked(err)
		}
	}
	payload, err := encode(seq)
	if err != nil {
		return 0, fmt.Errorf("encode reading %d: %w", seq, err)
	}
	if len(payload) > MaxPayload {
		return 0, fmt.Errorf("reading %d encodes to %d bytes, above the outbox limit of %d: send fewer values per reading",
			seq, len(payload), MaxPayload)
	}
	o.seq.use(seq)
	if o.diskErr == nil {
		hadMarks := len(o.disk.syncMarks) > 0
		if err := o.disk.append(seq, t, payload, time.Now()); err != nil {
			o.enterDiskErrorLocked(err)
			o.mem.append(seq, timeToNanos(t), payload)
		}
		if !hadMarks && len(o.disk.syncMarks) > 0 && o.ticks != nil {
			o.ticks.Reset(o.tickEvery)
		}
	} else {
		o.mem.append(seq, timeToNanos(t), payload)
	}
	select {
	case o.notify <- struct{}{}:
	default:
	}
	return seq, nil
}

// Pending returns up to limit records with a seq above after, oldest first,
// leaving out acked and dropped ones: those on disk, then those held in
// memory while the disk fails.
func (o *Outbox) Pending(after uint64, limit int) ([]Record, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return nil, ErrClosed
	}
	if limit <= 0 {
		return nil, nil
	}
	out := make([]Record, 0, min(limit, o.disk.pending+o.mem.pending))
	out = o.disk.read(after, limit, out)
	// A reading held in memory leaves only once the lease on disk makes
	// the next start resume above its seq; else a restart could number
	// another reading the same.
	return o.mem.read(after, limit, o.seq.releasable, out), nil
}

// Ack marks seq delivered. Acks may come in any order; unknown, repeated
// and dropped seqs are ignored. A segment whose records are all acked is
// deleted by Run.
func (o *Outbox) Ack(seq uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.mem.holds(seq) {
		o.mem.ack(seq)
		return
	}
	o.disk.ack(seq)
}

// oldestLocked returns the time of the oldest pending reading.
func (o *Outbox) oldestLocked() (int64, bool) {
	if s, i := o.disk.firstPending(); s != nil {
		return s.recs[i].unixNano, true
	}
	if i := o.mem.firstPending(); i >= 0 {
		return o.mem.recs[i].unixNano, true
	}
	return 0, false
}

// ackedThroughLocked is the highest seq through which nothing is pending.
func (o *Outbox) ackedThroughLocked() uint64 {
	if s, i := o.disk.firstPending(); s != nil {
		return s.recs[i].seq - 1
	}
	if i := o.mem.firstPending(); i >= 0 {
		return o.mem.recs[i].seq - 1
	}
	return o.seq.last()
}

// enterDiskErrorLocked switches to keeping readings in memory and logs the
// failure once for the whole episode.
func (o *Outbox) enterDiskErrorLocked(err error) {
	if o.diskErr != nil {
		return
	}
	o.diskErr = fmt.Errorf("outbox dir %s: %w; readings are kept in memory (up to %d) until it works again: %s",
		o.dir, err, o.opts.MemoryLimit, diskFix(err))
	o.lastRetry = time.Now()
	o.disk.active = nil
	o.log.Error("outbox cannot write to disk", logging.MessageID(logging.MsgDiskError),
		slog.String("dir", o.dir), slog.Any("error", o.diskErr))
	// Readings that exist only in memory leave no trace in the segments,
	// so the next start within this boot must not trust them for the last
	// seq. On a full disk this in-place write still works.
	if o.seq.isOpen() {
		o.seq.setExact(false)
	}
}

// diskFix tells the operator what to do about a disk error.
func diskFix(err error) string {
	switch {
	case errors.Is(err, errDirInUse):
		return "stop the other edgepub process using it, or give each instance its own outbox dir, then restart edgepub"
	case errors.Is(err, errDirConflict):
		return "restart edgepub so it reads the dir from the start"
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return "free space on its filesystem or lower the outbox size limit"
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EROFS):
		return "make it writable for the user edgepub runs as (check the mount and StateDirectory=)"
	case errors.Is(err, syscall.ENOTDIR), errors.Is(err, fs.ErrNotExist):
		return "make the path a directory edgepub can create, or configure another outbox dir"
	case errors.Is(err, syscall.EIO):
		return "the storage reports I/O errors: check dmesg and replace the SD card"
	}
	return "check the storage holding it (dmesg, df, mount)"
}

// Notify returns a channel that receives after Appends; the one consumer
// waits on it when Pending is empty.
func (o *Outbox) Notify() <-chan struct{} { return o.notify }

// Stats returns a snapshot of the outbox.
func (o *Outbox) Stats() Stats {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := Stats{
		Backlog:       o.disk.pending + o.mem.pending,
		InMemory:      o.mem.pending,
		Bytes:         o.disk.bytes,
		Segments:      len(o.disk.segs),
		LastSeq:       o.seq.last(),
		DroppedFull:   o.disk.droppedFull,
		DroppedAge:    o.droppedAge,
		DroppedMemory: o.mem.dropped,
		Damaged:       o.disk.damaged,
		OpenDamage:    o.disk.openDamage,
		Skipped:       o.skipped,
		Syncs:         o.disk.syncs,
		DiskErr:       o.diskErr,
	}
	s.Dropped = s.DroppedFull + s.DroppedAge + s.DroppedMemory + s.Damaged
	if ns, ok := o.oldestLocked(); ok {
		s.Oldest = nanosToTime(ns)
	}
	return s
}

// Backlog is what the outbox holds, as its reader sees it.
type Backlog struct {
	// Readings not yet acknowledged, and when the oldest was taken.
	Readings int
	Oldest   time.Time
	// LastSeq is the newest seq handed out.
	LastSeq uint64
}

// Backlog returns what the outbox holds; cheaper than Stats.
func (o *Outbox) Backlog() Backlog {
	o.mu.Lock()
	defer o.mu.Unlock()
	b := Backlog{Readings: o.disk.pending + o.mem.pending, LastSeq: o.seq.last()}
	if ns, ok := o.oldestLocked(); ok {
		b.Oldest = nanosToTime(ns)
	}
	return b
}

// Close syncs unacknowledged records, records how far everything was acked
// so the next Open does not resend it, and closes the files.
func (o *Outbox) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return nil
	}
	if o.diskErr != nil && !o.diskPermanent && o.mem.pending > 0 {
		// A last try, so readings held in memory are not lost on a clean
		// stop when the disk has come back.
		o.retryDiskLocked(time.Now())
	}
	o.closed = true
	o.disk.writeAckMarks()
	errs := o.disk.close()
	if o.seq.isOpen() {
		o.seq.recordAcked(o.ackedThroughLocked())
		if o.diskErr == nil {
			if err := o.seq.persist(); err != nil {
				errs = append(errs, err)
			}
		}
		o.seq.close()
	}
	if o.lockFile != nil {
		o.lockFile.Close()
		o.lockFile = nil
	}
	if len(errs) > 0 {
		return fmt.Errorf("close outbox in %s: %w", o.dir, errors.Join(errs...))
	}
	return nil
}
