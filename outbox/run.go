package outbox

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"sort"
	"time"

	"github.com/edgepub/edgepub/internal/logging"
)

// Run does the periodic work until ctx is done: fsync within SyncWindow of
// unacknowledged records, replacing and deleting acknowledged segments,
// dropping readings past MaxAge, extending the seq lease and retrying a
// failed disk. It returns nil when ctx is cancelled.
func (o *Outbox) Run(ctx context.Context) error {
	t := time.NewTicker(o.tickEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			o.tick()
		}
	}
}

// tick is one round of Run's work; tests call it with a fake clock.
func (o *Outbox) tick() {
	o.syncIfDue()

	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return
	}
	now := o.opts.Now()
	o.dropExpiredLocked(now)
	o.rotateIfDeliveredLocked(now)
	o.reclaimLocked()
	o.writeMarksLocked()
	o.closeIdleFilesLocked()
	o.endEpisodesLocked(now)
	if o.diskErr != nil && !o.diskPermanent && now.Sub(o.lastRetry) >= retryEvery {
		o.retryDiskLocked(now)
	}
	// Extend the lease ahead of need so Append rarely waits for an fsync.
	lf, version, want := o.lease, uint64(0), o.want
	if lf != nil && o.diskErr == nil && o.ceiling < o.next+leaseStep/2 {
		o.want.ceiling = max(o.want.ceiling, o.next+leaseStep)
		o.wantVersion++
		version, want = o.wantVersion, o.want
	}
	o.mu.Unlock()

	if version == 0 {
		return
	}
	err := o.writeLease(lf, want, version)
	o.mu.Lock()
	defer o.mu.Unlock()
	if err != nil {
		if !o.closed {
			o.enterDiskErrorLocked(err)
		}
		return
	}
	o.ceiling = max(o.ceiling, want.ceiling)
}

// syncIfDue fsyncs once the oldest unacknowledged, unsynced record is about
// to be SyncWindow old. Records the broker acknowledged in time are never
// synced: while the link is healthy this does nothing.
func (o *Outbox) syncIfDue() {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return
	}
	for len(o.unsynced) > 0 && !o.anyPendingLocked(o.unsynced[0].seq, o.markEndLocked(0)) {
		o.unsynced = o.unsynced[1:]
	}
	if len(o.unsynced) == 0 {
		o.unsynced = nil
		o.mu.Unlock()
		return
	}
	now := o.opts.Now()
	// Readings taken out of order can leave an older mark behind a newer.
	oldest := o.unsynced[0].at
	for _, m := range o.unsynced[1:] {
		oldest = min(oldest, m.at)
	}
	// The records are safe only when the fsync returns, so it starts one
	// tick plus the expected fsync time before the window ends.
	if time.Duration(now.UnixNano()-oldest) < o.opts.SyncWindow-o.tickEvery-o.syncLead {
		o.mu.Unlock()
		return
	}
	type job struct {
		seg  *segment
		f    *os.File
		upto int64
		dir  bool
	}
	var jobs []job
	var err error
	for _, s := range o.segs {
		if s.pending > 0 && s.synced < s.size {
			if err = s.openFile(); err != nil {
				break
			}
			jobs = append(jobs, job{seg: s, f: s.file, upto: s.size, dir: !s.dirSynced})
		}
	}
	covered := o.next - 1
	o.mu.Unlock()

	// fsync without the lock: on an SD card it can take a while and Append
	// must not wait for it.
	done := make([]bool, len(jobs))
	for i, j := range jobs {
		if err != nil {
			break
		}
		if err = o.syncFile(j.f); err != nil {
			if errors.Is(err, os.ErrClosed) {
				err = nil // the segment was finished meanwhile
				continue
			}
			break
		}
		if j.dir {
			if err = syncDir(o.dir); err != nil {
				break
			}
		}
		done[i] = true
	}

	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return
	}
	for i, j := range jobs {
		if done[i] {
			j.seg.synced = max(j.seg.synced, j.upto)
			j.seg.dirSynced = j.seg.dirSynced || j.dir
		}
	}
	if err != nil {
		// After a failed fsync the kernel may have dropped the pages:
		// whether these records reach the disk is unknown, and retrying
		// the fsync would report success without proof.
		o.enterDiskErrorLocked(err)
		o.unsynced = nil
		return
	}
	if len(jobs) > 0 {
		o.syncs++
		o.timeSyncLocked(now, o.opts.Now())
	}
	// Records appended during the fsync keep their mark.
	for len(o.unsynced) > 0 {
		if o.markEndLocked(0) <= covered+1 {
			o.unsynced = o.unsynced[1:]
			continue
		}
		o.unsynced[0].seq = max(o.unsynced[0].seq, covered+1)
		break
	}
}

// timeSyncLocked moves the next fsync forward by the time this one took and
// logs fsyncs that take longer than SyncWindow: on a busy disk (on ext4 an
// fsync also waits for other processes' data in the same journal commit) no
// schedule keeps the window then, and a power cut can lose readings up to
// about twice the fsync's duration old.
func (o *Outbox) timeSyncLocked(start, end time.Time) {
	took := end.Sub(start)
	o.syncLead = max(took, o.syncLead/2)
	e := &o.slowSync
	if took <= o.opts.SyncWindow {
		if e.active && end.Sub(e.last) >= slowSyncQuiet {
			o.log.Info("outbox fsyncs are within the sync window again", slog.String("dir", o.dir),
				slog.Uint64("slow_fsyncs", e.count), slog.Duration("slowest", e.slowest))
			*e = slowSyncEpisode{}
		}
		return
	}
	e.count++
	e.slowest = max(e.slowest, took)
	e.last = end
	if !e.active {
		e.active = true
		o.log.Warn("outbox fsync took longer than the sync window: a power cut now can lose unacknowledged readings older than the window",
			logging.MessageID(logging.MsgSlowSync), slog.String("dir", o.dir),
			slog.Duration("took", took), slog.Duration("sync_window", o.opts.SyncWindow))
	}
}

// markEndLocked is the seq after the range of sync mark i.
func (o *Outbox) markEndLocked(i int) uint64 {
	if i+1 < len(o.unsynced) {
		return o.unsynced[i+1].seq
	}
	return o.next
}

// anyPendingLocked tells whether a record with a seq in [lo, hi) is on disk
// and pending.
func (o *Outbox) anyPendingLocked(lo, hi uint64) bool {
	for si := o.segmentIndexLocked(lo); si < len(o.segs) && o.segs[si].base < hi; si++ {
		s := o.segs[si]
		i := s.first
		if lo > 0 {
			i = max(i, s.after(lo-1))
		}
		for ; i < len(s.recs) && s.recs[i].seq < hi; i++ {
			if s.recs[i].state == entryPending {
				return true
			}
		}
	}
	return false
}

// dropExpiredLocked drops pending readings older than MaxAge, oldest first.
func (o *Outbox) dropExpiredLocked(now time.Time) {
	if o.opts.MaxAge <= 0 {
		return
	}
	cutoff := now.Add(-o.opts.MaxAge).UnixNano()
	var n uint64
	for _, s := range o.segs {
		for s.first < len(s.recs) && s.recs[s.first].unixNano < cutoff {
			s.mark(s.first, entryDropped)
			o.backlog--
			n++
		}
		if s.first < len(s.recs) {
			break
		}
	}
	if o.firstPendingDiskLocked() == nil {
		for i := range o.mem {
			if o.mem[i].state != entryPending {
				continue
			}
			if o.mem[i].unixNano >= cutoff {
				break
			}
			o.markMemLocked(i, entryDropped)
			n++
		}
		o.trimMemLocked()
	}
	if n == 0 {
		return
	}
	o.droppedAge += n
	o.aged.dropped += n
	if !o.aged.active {
		o.aged.active = true
		o.log.Warn("outbox drops readings older than the age limit",
			logging.MessageID(logging.MsgReadingsDropped), slog.String("dir", o.dir),
			slog.Duration("max_age", o.opts.MaxAge))
	}
}

func (o *Outbox) firstPendingDiskLocked() *segment {
	s, _ := o.firstPendingLocked()
	return s
}

// rotateIfDeliveredLocked replaces an active segment that is a few seconds
// old when the broker is keeping up: all its records are acked, or the
// pending ones are younger than SyncWindow and will be acked shortly. The old
// file is deleted once its last record is acked, normally before the kernel
// would write its pages back.
func (o *Outbox) rotateIfDeliveredLocked(now time.Time) {
	a := o.active
	if a == nil || len(a.recs) == 0 || now.Sub(a.created) < rotateAfter {
		return
	}
	if a.pending > 0 && !o.recentlyAppendedLocked(a.recs[a.first].seq, now) {
		return
	}
	if _, err := o.createSegmentLocked(o.next); err != nil {
		o.enterDiskErrorLocked(err)
	}
}

// recentlyAppendedLocked tells whether seq is unsynced and was appended
// less than SyncWindow ago.
func (o *Outbox) recentlyAppendedLocked(seq uint64, now time.Time) bool {
	i := sort.Search(len(o.unsynced), func(i int) bool { return o.unsynced[i].seq > seq }) - 1
	return i >= 0 && time.Duration(now.UnixNano()-o.unsynced[i].at) < o.opts.SyncWindow
}

// reclaimLocked deletes segments without pending records. The newest
// segment stays: its name tells the last seq after a crash. So does a
// segment file holding no intact record at all: that is damage for a person
// to look at, and only the MaxBytes cap removes it.
func (o *Outbox) reclaimLocked() {
	for i := 0; i < len(o.segs)-1; {
		if s := o.segs[i]; s.pending == 0 && s != o.active && (len(s.recs) > 0 || s.size == 0) {
			o.removeSegmentLocked(i)
			continue
		}
		i++
	}
}

// closeIdleFilesLocked closes files that are neither written, awaiting a
// sync, nor the one the publisher is reading from.
func (o *Outbox) closeIdleFilesLocked() {
	reading := o.firstPendingDiskLocked()
	for _, s := range o.segs {
		if s.file != nil && s != o.active && s != reading && (s.synced >= s.size || s.pending == 0) {
			s.closeFile()
		}
	}
}

// endEpisodesLocked logs the end of a stretch of drops once the cause is
// clearly gone, with how many readings it cost.
func (o *Outbox) endEpisodesLocked(now time.Time) {
	end := func(e *episode, msg string) {
		o.log.Info(msg, slog.String("dir", o.dir), slog.Uint64("dropped", e.dropped))
		*e = episode{}
	}
	if o.full.active && o.bytes <= o.opts.MaxBytes/2 {
		end(&o.full, "outbox is no longer full")
	}
	if o.aged.active {
		ns, ok := o.oldestLocked()
		if !ok || now.Sub(nanosToTime(ns)) < o.opts.MaxAge/2 {
			end(&o.aged, "outbox no longer drops readings for their age")
		}
	}
	if o.overflow.active && (o.diskErr == nil || o.memPending < o.opts.MemoryLimit/2) {
		end(&o.overflow, "outbox memory is no longer full")
	}
}

// retryDiskLocked tries the disk again after a failure.
func (o *Outbox) retryDiskLocked(now time.Time) {
	o.lastRetry = now
	flushed := o.memPending
	if err := o.attachLocked(); err != nil {
		if errors.Is(err, errDirInUse) || errors.Is(err, errDirConflict) {
			o.log.Error("outbox gives up on its dir until edgepub restarts", logging.MessageID(logging.MsgDiskError),
				slog.String("dir", o.dir), slog.Any("error", err), slog.String("fix", diskFix(err)))
		}
		return
	}
	o.diskErr = nil
	o.log.Info("outbox writes to disk again", slog.String("dir", o.dir), slog.Int("flushed_from_memory", flushed))
}

func removeFile(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
