package outbox

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/edgepub/edgepub/internal/logging"
)

const (
	// leaseStep is how far ahead seqs are reserved by one fsynced lease
	// write: seq may jump by up to this much after a power cut.
	leaseStep = 10000
	// rotateAfter is how old a segment whose records the broker acked gets
	// before it is replaced and deleted. Deleting it well before the
	// kernel writes dirty pages back (30 s by default) cancels that
	// writeback, so a healthy link keeps readings off the SD card.
	rotateAfter = 5 * time.Second
	// markEvery is how often a new sync mark starts: a quarter of the
	// tick, so a record is synced at most that much early.
	markEvery = 4
	// slowSyncQuiet is how long fsyncs stay within SyncWindow before a
	// stretch of slow ones is over: a short window on a busy disk would
	// otherwise start and end one every few seconds.
	slowSyncQuiet = time.Minute
	// retryEvery is how often a failed disk is tried again.
	retryEvery = 5 * time.Second
)

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("outbox is closed")

// Outbox is a durable, seq-numbering queue of readings on disk. It is safe
// for concurrent use.
type Outbox struct {
	dir       string
	opts      Opts
	log       *slog.Logger
	notify    chan struct{}
	tickEvery time.Duration

	// leaseMu serialises lease writes. It may be taken while holding mu,
	// never the other way round.
	leaseMu      sync.Mutex
	leaseWritten uint64 // version of want last made durable

	mu          sync.Mutex
	closed      bool
	lockFile    *os.File
	scanned     bool
	lease       *leaseFile
	leaseGen    uint64
	leaseIntact bool
	// want is the lease content to make durable; wantVersion counts changes.
	want        leaseState
	wantVersion uint64
	// ceiling is the durable lease ceiling: seqs below it may be handed out.
	ceiling uint64
	next    uint64

	segs   []*segment
	active *segment
	// mem holds readings while the disk fails, in seq order; every seq in
	// it is above every seq in segs.
	mem        []memRecord
	memPending int
	// unsynced marks where the records written since the last fsync start:
	// mark i covers the seqs from its seq up to the next mark's (the last
	// one up to next), and at is when its first record was appended. A new
	// mark starts every markEvery, so there are a few per second at any
	// rate, and the deadline they give errs towards syncing early.
	unsynced []syncMark
	scratch  []byte
	// syncLead is how much earlier than SyncWindow the next fsync starts:
	// the last fsync's duration, or half the previous lead if that was
	// longer, so one slow fsync moves the next ones forward for a while.
	syncLead time.Duration
	// syncFile fsyncs a segment; tests replace it with a slow one.
	syncFile func(*os.File) error
	slowSync slowSyncEpisode

	bytes   int64
	backlog int
	syncs   uint64
	// lastMarkAt is when Ack last wrote ack marks (Unix nanoseconds);
	// markWrites counts the slot writes.
	lastMarkAt int64
	markWrites uint64

	diskErr       error
	diskPermanent bool
	lastRetry     time.Time

	droppedFull, droppedAge, droppedMemory, damaged uint64
	openDamage                                      Damage
	full, aged, overflow                            episode
	loggedRemoveErr, loggedReadErr, loggedMarkErr   bool
}

type memRecord struct {
	seq      uint64
	unixNano int64
	payload  []byte
	state    uint8
}

type syncMark struct {
	seq uint64
	at  int64
}

// slowSyncEpisode tracks a stretch of fsyncs slower than SyncWindow so it is
// logged once at its start and once at its end, a minute after the last.
type slowSyncEpisode struct {
	active  bool
	count   uint64
	slowest time.Duration
	last    time.Time
}

// episode tracks one stretch of drops so it is logged once, not per reading.
type episode struct {
	active  bool
	dropped uint64
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
	// Syncs counts fsyncs of record data. It stays 0 while the broker
	// acknowledges every reading within SyncWindow.
	Syncs uint64
	// DiskErr is nil while the disk works; otherwise readings go to memory.
	DiskErr error
}

// Open opens or creates the outbox in dir. Damaged content never stops it:
// intact records are kept, damage is logged once. When dir cannot be used it
// returns an outbox that keeps readings in memory, with Stats().DiskErr set,
// and retries the disk from Run. It fails only for invalid opts.
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
		next:      1,
		syncFile:  (*os.File).Sync,
	}
	bootID, err := o.BootID()
	if err != nil {
		ob.log.Warn("cannot tell reboots apart, so seq will jump on every start", slog.Any("error", err))
	}
	ob.want = leaseState{bootID: bootID, exactResume: true}

	ob.mu.Lock()
	defer ob.mu.Unlock()
	if err := ob.attachLocked(); err != nil {
		ob.enterDiskErrorLocked(err)
	}
	ob.syncRecoveredLocked(bootID)
	return ob, nil
}

// attachLocked brings the disk into use: dir, lock, recovery, lease, a fresh
// active segment and the readings held in memory. It is used by Open and to
// retry a failed disk.
func (o *Outbox) attachLocked() error {
	mkdirErr := os.MkdirAll(o.dir, 0o700)
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
	o.want.ceiling = max(o.want.ceiling, o.next+leaseStep)
	o.want.exactResume = len(o.mem) == 0
	if err := o.persistLeaseLocked(); err != nil {
		return err
	}

	base := o.next
	if i := o.firstPendingMem(); i >= 0 {
		base = o.mem[i].seq
	}
	seg, err := o.createSegmentLocked(base)
	if err != nil {
		return err
	}
	if err := o.flushMemLocked(seg); err != nil {
		return err
	}
	if !o.want.exactResume {
		o.want.exactResume = true
		if err := o.persistLeaseLocked(); err != nil {
			return err
		}
	}
	return nil
}

// persistLeaseLocked makes o.want durable before it returns.
func (o *Outbox) persistLeaseLocked() error {
	o.wantVersion++
	if o.lease == nil {
		o.leaseMu.Lock()
		defer o.leaseMu.Unlock()
		lf, err := openLeaseFile(o.dir, o.want, o.leaseGen, o.leaseIntact)
		if err != nil {
			return err
		}
		o.lease = lf
		o.leaseWritten = o.wantVersion
	} else if err := o.writeLease(o.lease, o.want, o.wantVersion); err != nil {
		return err
	}
	o.ceiling = max(o.ceiling, o.want.ceiling)
	return nil
}

// writeLease writes s unless a newer version was written already; it does
// not need mu, so Run can extend the lease without blocking Append.
func (o *Outbox) writeLease(lf *leaseFile, s leaseState, version uint64) error {
	o.leaseMu.Lock()
	defer o.leaseMu.Unlock()
	if version <= o.leaseWritten {
		return nil
	}
	if err := lf.write(s); err != nil {
		return err
	}
	o.leaseWritten = version
	return nil
}

// createSegmentLocked starts a new active segment named after base. The old
// active one stays until its records are acked: a new name is always on disk
// before an old one goes, so the newest name tells the last seq.
func (o *Outbox) createSegmentLocked(base uint64) (*segment, error) {
	path := filepath.Join(o.dir, segmentName(base))
	flags := os.O_RDWR | os.O_CREATE | os.O_EXCL
	var reuse *segment
	if n := len(o.segs); n > 0 && o.segs[n-1].base == base {
		// An empty newest segment, or one holding only damage, named for
		// exactly this seq: write into it instead.
		reuse = o.segs[n-1]
		if len(reuse.recs) > 0 {
			return nil, fmt.Errorf("outbox segment %s already holds records", filepath.Base(path))
		}
		flags = os.O_RDWR | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create outbox segment: %w", err)
	}
	seg := reuse
	if seg == nil {
		seg = &segment{base: base, path: path}
		o.segs = append(o.segs, seg)
	} else {
		seg.closeFile()
		o.bytes -= seg.size
		seg.size, seg.synced = 0, 0
	}
	seg.file, seg.readOnly, seg.dirSynced, seg.created = f, false, false, o.opts.Now()
	seg.marked, seg.markSlot = 0, 1 // the header's slot 0 holds mark 0
	o.active = seg
	return seg, nil
}

// flushMemLocked moves the readings held in memory into seg, oldest first.
func (o *Outbox) flushMemLocked(seg *segment) error {
	var buf []byte
	if seg.size == 0 {
		buf = appendSegmentHeader(buf, seg.base)
	}
	var recs []entry
	off := seg.size
	for _, m := range o.mem {
		if m.state != entryPending {
			continue
		}
		recs = append(recs, entry{seq: m.seq, off: off + int64(len(buf)), unixNano: m.unixNano, size: uint32(len(m.payload))})
		buf = appendRecord(buf, m.seq, nanosToTime(m.unixNano), m.payload)
	}
	if len(recs) == 0 {
		o.mem, o.memPending = nil, 0
		return nil
	}
	if err := o.writeLocked(seg, buf); err != nil {
		return err
	}
	if err := seg.file.Sync(); err != nil {
		return fmt.Errorf("sync outbox segment: %w", err)
	}
	if err := syncDir(o.dir); err != nil {
		return err
	}
	o.syncs++
	seg.synced, seg.dirSynced = seg.size, true
	seg.recs = append(seg.recs, recs...)
	seg.pending += len(recs)
	o.mem, o.memPending = nil, 0
	return nil
}

// writeLocked appends buf to seg with one write(2): once it returns the
// records survive the death of the process.
func (o *Outbox) writeLocked(seg *segment, buf []byte) error {
	n, err := seg.file.WriteAt(buf, seg.size)
	if err != nil {
		// Take a partial record back so the next write starts clean; if
		// even that fails, recovery skips it as a torn tail.
		if n > 0 && seg.file.Truncate(seg.size) != nil {
			seg.size += int64(n)
			o.bytes += int64(n)
		}
		return fmt.Errorf("write outbox segment: %w", err)
	}
	seg.size += int64(len(buf))
	o.bytes += int64(len(buf))
	return nil
}

// syncRecoveredLocked fsyncs recovered segments after a restart within the
// same boot: a killed process may have left records only in the page cache.
func (o *Outbox) syncRecoveredLocked(bootID string) {
	if o.diskErr != nil || bootID == "" {
		return
	}
	for _, s := range o.segs {
		if s == o.active || s.pending == 0 {
			continue
		}
		if err := s.openFile(); err != nil {
			continue
		}
		if s.file.Sync() == nil {
			o.syncs++
		}
		s.closeFile()
	}
}

// enterDiskErrorLocked switches to keeping readings in memory and logs the
// failure once for the whole episode.
func (o *Outbox) enterDiskErrorLocked(err error) {
	if o.diskErr != nil {
		return
	}
	o.diskErr = fmt.Errorf("outbox dir %s: %w; readings are kept in memory (up to %d) until it works again: %s",
		o.dir, err, o.opts.MemoryLimit, diskFix(err))
	o.lastRetry = o.opts.Now()
	o.active = nil
	o.log.Error("outbox cannot write to disk", logging.MessageID(logging.MsgDiskError),
		slog.String("dir", o.dir), slog.Any("error", o.diskErr))
	// Readings that exist only in memory leave no trace in the segments,
	// so the next start within this boot must not trust them for the last
	// seq. On a full disk this in-place write still works.
	if o.lease != nil && o.want.exactResume {
		o.want.exactResume = false
		o.persistLeaseLocked()
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
		Backlog:       o.backlog,
		Bytes:         o.bytes,
		Segments:      len(o.segs),
		LastSeq:       o.next - 1,
		DroppedFull:   o.droppedFull,
		DroppedAge:    o.droppedAge,
		DroppedMemory: o.droppedMemory,
		Damaged:       o.damaged,
		OpenDamage:    o.openDamage,
		Syncs:         o.syncs,
		DiskErr:       o.diskErr,
	}
	s.Dropped = s.DroppedFull + s.DroppedAge + s.DroppedMemory + s.Damaged
	s.InMemory = o.memPending
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
	b := Backlog{Readings: o.backlog, LastSeq: o.next - 1}
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
	if o.diskErr != nil && !o.diskPermanent && o.memPending > 0 {
		// A last try, so readings held in memory are not lost on a clean
		// stop when the disk has come back.
		o.retryDiskLocked(o.opts.Now())
	}
	o.closed = true
	o.writeMarksLocked()
	var errs []error
	for _, s := range o.segs {
		if s.file != nil && s.pending > 0 && s.synced < s.size {
			if err := s.file.Sync(); err != nil {
				errs = append(errs, fmt.Errorf("sync outbox segment %s: %w", filepath.Base(s.path), err))
			}
		}
		s.closeFile()
	}
	if o.lease != nil {
		o.want.ackedThrough = max(o.want.ackedThrough, o.ackedThroughLocked())
		if o.diskErr == nil {
			if err := o.persistLeaseLocked(); err != nil {
				errs = append(errs, err)
			}
		}
		o.leaseMu.Lock()
		o.lease.close()
		o.leaseMu.Unlock()
		o.lease = nil
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
