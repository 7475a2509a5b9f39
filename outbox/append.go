package outbox

import (
	"bytes"
	"fmt"
	"log/slog"
	"time"

	"github.com/edgepub/edgepub/internal/logging"
)

// maxScratch bounds the encode buffer kept between Appends.
const maxScratch = 64 << 10

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
	seq := o.next
	if seq >= o.ceiling && o.diskErr == nil {
		// A seq may leave the outbox only below a durable ceiling, or a
		// power cut could hand it out a second time.
		o.want.ceiling = seq + leaseStep
		if err := o.persistLeaseLocked(); err != nil {
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
	o.next++
	now := o.opts.Now()
	if o.diskErr == nil {
		if err := o.appendDiskLocked(seq, t, payload, now); err != nil {
			o.enterDiskErrorLocked(err)
			o.appendMemLocked(seq, t, payload)
		}
	} else {
		o.appendMemLocked(seq, t, payload)
	}
	o.backlog++
	select {
	case o.notify <- struct{}{}:
	default:
	}
	return seq, nil
}

func (o *Outbox) appendDiskLocked(seq uint64, t time.Time, payload []byte, now time.Time) error {
	size := int64(encodedSize(len(payload)))
	seg := o.active
	if len(seg.recs) > 0 && seg.size+size > o.opts.SegmentBytes {
		var err error
		if seg, err = o.createSegmentLocked(seq); err != nil {
			return err
		}
	}
	buf := o.scratch[:0]
	if seg.size == 0 {
		buf = appendSegmentHeader(buf, seg.base)
	}
	o.makeRoomLocked(size + int64(len(buf)))
	off := seg.size + int64(len(buf))
	buf = appendRecord(buf, seq, t, payload)
	if cap(buf) <= maxScratch {
		o.scratch = buf
	}
	if err := o.writeLocked(seg, buf); err != nil {
		return err
	}
	seg.recs = append(seg.recs, entry{seq: seq, off: off, unixNano: timeToNanos(t), size: uint32(len(payload))})
	seg.pending++
	// The window counts from when the reading was taken: it may have waited
	// for Append, e.g. while a busy disk held up the lock.
	at := now.UnixNano()
	if taken := timeToNanos(t); taken > 0 && taken < at {
		at = taken
	}
	switch n := len(o.unsynced); {
	case n == 0 || time.Duration(at-o.unsynced[n-1].at) >= o.tickEvery/markEvery:
		o.unsynced = append(o.unsynced, syncMark{seq: seq, at: at})
	case at < o.unsynced[n-1].at:
		o.unsynced[n-1].at = at // taken before the mark's first reading
	}
	return nil
}

// makeRoomLocked drops the oldest segments until size more bytes fit under
// MaxBytes. The active segment stays; it is at most MaxBytes/8.
func (o *Outbox) makeRoomLocked(size int64) {
	for o.bytes+size > o.opts.MaxBytes && len(o.segs) > 0 && o.segs[0] != o.active {
		s := o.segs[0]
		if s.pending > 0 {
			if !o.full.active {
				o.full.active = true
				o.log.Warn("outbox is full: dropping the oldest readings to keep the newest",
					logging.MessageID(logging.MsgReadingsDropped), slog.String("dir", o.dir),
					slog.Int64("max_bytes", o.opts.MaxBytes), slog.Time("oldest_kept", nanosToTime(o.firstKeptAfter(s))))
			}
			o.droppedFull += uint64(s.pending)
			o.full.dropped += uint64(s.pending)
			o.backlog -= s.pending
		}
		o.removeSegmentLocked(0)
	}
}

// firstKeptAfter is the time of the first record after dropping s.
func (o *Outbox) firstKeptAfter(s *segment) int64 {
	for _, t := range o.segs {
		if t != s && t.first < len(t.recs) {
			return t.recs[t.first].unixNano
		}
	}
	return 0
}

// removeSegmentLocked deletes segment i, file and index entry.
func (o *Outbox) removeSegmentLocked(i int) {
	s := o.segs[i]
	s.closeFile()
	if err := removeFile(s.path); err != nil && !o.loggedRemoveErr {
		o.loggedRemoveErr = true
		o.log.Error("outbox cannot delete a finished segment; it will be sent again after a restart",
			logging.MessageID(logging.MsgDiskError), slog.String("dir", o.dir), slog.Any("error", err))
	}
	o.bytes -= s.size
	o.segs = append(o.segs[:i], o.segs[i+1:]...)
}

// appendMemLocked keeps a reading in memory while the disk fails, dropping
// the oldest beyond MemoryLimit.
func (o *Outbox) appendMemLocked(seq uint64, t time.Time, payload []byte) {
	o.mem = append(o.mem, memRecord{seq: seq, unixNano: timeToNanos(t), payload: bytes.Clone(payload)})
	o.memPending++
	for i := 0; o.memPending > o.opts.MemoryLimit && i < len(o.mem); i++ {
		if o.mem[i].state != entryPending {
			continue
		}
		if !o.overflow.active {
			o.overflow.active = true
			o.log.Warn("outbox memory is full while the disk fails: dropping the oldest readings",
				logging.MessageID(logging.MsgReadingsDropped), slog.String("dir", o.dir),
				slog.Int("memory_limit", o.opts.MemoryLimit))
		}
		o.markMemLocked(i, entryDropped)
		o.droppedMemory++
		o.overflow.dropped++
	}
	o.trimMemLocked()
}

// markMemLocked ends a pending in-memory record's life as acked or dropped.
func (o *Outbox) markMemLocked(i int, state uint8) bool {
	if o.mem[i].state != entryPending {
		return false
	}
	o.mem[i].state = state
	o.mem[i].payload = nil
	o.memPending--
	o.backlog--
	return true
}

// trimMemLocked forgets finished records at the front of mem.
func (o *Outbox) trimMemLocked() {
	i := 0
	for i < len(o.mem) && o.mem[i].state != entryPending {
		o.mem[i].payload = nil
		i++
	}
	if i == len(o.mem) {
		o.mem = o.mem[:0]
		return
	}
	o.mem = o.mem[i:]
}

func (o *Outbox) firstPendingMem() int {
	for i, m := range o.mem {
		if m.state == entryPending {
			return i
		}
	}
	return -1
}
