package outbox

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"time"

	"github.com/edgepub/edgepub/internal/logging"
	"github.com/edgepub/edgepub/internal/periodic"
)

// idleTickEvery is how often Run ticks while no record waits for an fsync:
// the rest of its work is housekeeping that does not need tickEvery, and
// every tick wakes the process (on a Pi, the CPU from its idle state).
const idleTickEvery = time.Second

// Run does the periodic work until ctx is done: fsync within SyncWindow of
// unacknowledged records, replacing and deleting acknowledged segments,
// dropping readings past MaxAge, extending the seq lease and retrying a
// failed disk. It ticks every tickEvery while a record may need an fsync,
// else every idleTickEvery. It returns nil when ctx is cancelled.
func (o *Outbox) Run(ctx context.Context) error {
	o.Start(ctx).Wait()
	return nil
}

// Start is Run on a timer: it returns at once, and between ticks no
// goroutine waits. Call it once.
func (o *Outbox) Start(ctx context.Context) *periodic.Loop {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ticks = periodic.Start(ctx, o.tickEvery, func(context.Context) (time.Duration, bool) {
		o.tick()
		o.mu.Lock()
		defer o.mu.Unlock()
		if len(o.disk.syncMarks) > 0 || o.diskErr != nil {
			return o.tickEvery, true
		}
		return max(idleTickEvery, o.tickEvery), true
	})
	return o.ticks
}

// tick is one round of Run's work; tests call it in a synctest bubble.
func (o *Outbox) tick() {
	o.syncIfDue()

	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return
	}
	now := time.Now()
	o.dropExpiredLocked(now)
	if err := o.disk.rotateIfDelivered(now, o.seq.peek()); err != nil {
		o.enterDiskErrorLocked(err)
	}
	o.disk.reclaim()
	o.disk.writeAckMarks()
	o.disk.closeIdleFiles()
	o.endEpisodesLocked(now)
	if o.diskErr != nil && !o.diskPermanent && now.Sub(o.lastRetry) >= retryEvery {
		o.retryDiskLocked(now)
	}
	diskOK := o.diskErr == nil
	o.mu.Unlock()

	// Extend the lease without the lock, so Append does not wait for its
	// fsync.
	if !diskOK {
		return
	}
	if err := o.seq.extend(); err != nil {
		o.mu.Lock()
		defer o.mu.Unlock()
		if !o.closed {
			o.enterDiskErrorLocked(err)
		}
	}
}

// syncIfDue fsyncs once the oldest unacknowledged, unsynced record is about
// to be SyncWindow old; see segmentLog.dueSyncs.
func (o *Outbox) syncIfDue() {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return
	}
	next := o.seq.peek()
	jobs, due, err := o.disk.dueSyncs(time.Now(), next)
	covered := next - 1
	o.mu.Unlock()
	if !due {
		return
	}

	// fsync without the lock: on an SD card it can take a while and Append
	// must not wait for it.
	start := time.Now()
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
	o.disk.syncsDone(jobs, done, err != nil, covered, o.seq.peek())
	if err != nil {
		// After a failed fsync the kernel may have dropped the pages:
		// whether these records reach the disk is unknown, and retrying
		// the fsync would report success without proof.
		o.enterDiskErrorLocked(err)
		return
	}
	if len(jobs) > 0 {
		o.timeSyncLocked(start, time.Now())
	}
}

// timeSyncLocked moves the next fsync forward by the time this one took and
// logs fsyncs that take longer than SyncWindow: on a busy disk (on ext4 an
// fsync also waits for other processes' data in the same journal commit) no
// schedule keeps the window then, and a power cut can lose readings up to
// about twice the fsync's duration old.
func (o *Outbox) timeSyncLocked(start, end time.Time) {
	took := end.Sub(start)
	o.disk.syncLead = max(took, o.disk.syncLead/2)
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

// dropExpiredLocked drops pending readings older than MaxAge, oldest first:
// those on disk, then, once none is left there, those in memory.
func (o *Outbox) dropExpiredLocked(now time.Time) {
	if o.opts.MaxAge <= 0 {
		return
	}
	cutoff := now.Add(-o.opts.MaxAge).UnixNano()
	n := o.disk.dropOlder(cutoff)
	if s, _ := o.disk.firstPending(); s == nil {
		n += o.mem.dropOlder(cutoff)
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

// endEpisodesLocked logs the end of a stretch of drops once the cause is
// clearly gone, with how many readings it cost.
func (o *Outbox) endEpisodesLocked(now time.Time) {
	end := func(e *episode, msg string) {
		o.log.Info(msg, slog.String("dir", o.dir), slog.Uint64("dropped", e.dropped))
		*e = episode{}
	}
	if o.disk.full.active && o.disk.bytes <= o.opts.MaxBytes/2 {
		end(&o.disk.full, "outbox is no longer full")
	}
	if o.aged.active {
		ns, ok := o.oldestLocked()
		if !ok || now.Sub(nanosToTime(ns)) < o.opts.MaxAge/2 {
			end(&o.aged, "outbox no longer drops readings for their age")
		}
	}
	if o.mem.overflow.active && (o.diskErr == nil || o.mem.pending < o.opts.MemoryLimit/2) {
		end(&o.mem.overflow, "outbox memory is no longer full")
	}
}

// retryDiskLocked tries the disk again after a failure.
func (o *Outbox) retryDiskLocked(now time.Time) {
	o.lastRetry = now
	flushed := o.mem.pending
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
