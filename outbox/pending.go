package outbox

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"sort"

	"github.com/edgepub/edgepub/internal/logging"
)

// Pending returns up to limit records with a seq above after, oldest first,
// leaving out acked and dropped ones. Payloads come from disk (usually the
// page cache) or from memory while the disk fails; each record's checksum is
// checked again, and a record that no longer reads back intact is dropped
// and counted as damaged rather than blocking the queue.
func (o *Outbox) Pending(after uint64, limit int) ([]Record, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return nil, ErrClosed
	}
	if limit <= 0 {
		return nil, nil
	}
	out := make([]Record, 0, min(limit, o.backlog))
	for si := o.segmentIndexLocked(after + 1); si < len(o.segs) && len(out) < limit; si++ {
		s := o.segs[si]
		var want []int
		for i := max(s.first, s.after(after)); i < len(s.recs) && len(out)+len(want) < limit; i++ {
			if s.recs[i].state == entryPending {
				want = append(want, i)
			}
		}
		if len(want) > 0 {
			out = o.readLocked(s, want, out)
		}
	}
	for i := range o.mem {
		if len(out) >= limit {
			break
		}
		m := &o.mem[i]
		if m.seq >= o.ceiling || !o.inexactOnDisk {
			// Unless the lease on disk makes the next start resume above
			// this seq, sending it now could see the seq handed out again
			// after a restart. It waits for the disk.
			break
		}
		if m.seq > after && m.state == entryPending {
			out = append(out, Record{Seq: m.seq, Time: nanosToTime(m.unixNano), Payload: bytes.Clone(m.payload)})
		}
	}
	return out, nil
}

// segmentIndexLocked returns the index of the segment that would hold seq:
// the last one whose base is not above it.
func (o *Outbox) segmentIndexLocked(seq uint64) int {
	i := sort.Search(len(o.segs), func(i int) bool { return o.segs[i].base > seq })
	if i > 0 {
		i--
	}
	return i
}

// readLocked reads the records s.recs[want...] and appends them to out.
// Records close together on disk are read with one pread.
func (o *Outbox) readLocked(s *segment, want []int, out []Record) []Record {
	if err := s.openFile(); err != nil {
		o.loseLocked(s, want, err)
		return out
	}
	for len(want) > 0 {
		first := s.recs[want[0]]
		end := first.off + int64(encodedSize(int(first.size)))
		n := 1
		for ; n < len(want); n++ {
			e := s.recs[want[n]]
			eEnd := e.off + int64(encodedSize(int(e.size)))
			if e.off-end > maxReadGapBytes || eEnd-first.off > maxReadSpanBytes {
				break
			}
			end = eEnd
		}
		buf := make([]byte, end-first.off)
		if _, err := s.file.ReadAt(buf, first.off); err != nil {
			o.loseLocked(s, want[:n], err)
			want = want[n:]
			continue
		}
		for _, i := range want[:n] {
			e := s.recs[i]
			rel := e.off - first.off
			rec, _, err := decodeRecord(buf[rel : rel+int64(encodedSize(int(e.size)))])
			if err == nil && rec.Seq != e.seq {
				err = fmt.Errorf("record holds seq %d instead of %d", rec.Seq, e.seq)
			}
			if err != nil {
				o.loseLocked(s, []int{i}, err)
				continue
			}
			out = append(out, rec)
		}
		want = want[n:]
	}
	return out
}

// loseLocked drops records that can no longer be read back intact.
func (o *Outbox) loseLocked(s *segment, idx []int, err error) {
	for _, i := range idx {
		if s.mark(i, entryDropped) {
			o.damaged++
			o.backlog--
		}
	}
	if !o.loggedReadErr {
		o.loggedReadErr = true
		o.log.Error("outbox cannot read readings back; dropping them so the rest keep flowing",
			logging.MessageID(logging.MsgOutboxDamaged), slog.String("dir", o.dir),
			slog.String("segment", s.path), slog.Int("records", len(idx)), slog.Any("error", err))
	}
}

// Ack marks seq delivered. Acks may come in any order; unknown, repeated
// and dropped seqs are ignored. A segment whose records are all acked is
// deleted by Run.
func (o *Outbox) Ack(seq uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.mem) > 0 && seq >= o.mem[0].seq {
		i := sort.Search(len(o.mem), func(i int) bool { return o.mem[i].seq >= seq })
		if i < len(o.mem) && o.mem[i].seq == seq && o.markMemLocked(i, entryAcked) {
			o.trimMemLocked()
		}
		return
	}
	if len(o.segs) == 0 {
		return
	}
	s := o.segs[o.segmentIndexLocked(seq)]
	if i := s.find(seq); i >= 0 && s.mark(i, entryAcked) {
		o.backlog--
		if now := o.opts.Now().UnixNano(); now-o.lastMarkAt >= int64(markAcksEvery) {
			o.lastMarkAt = now
			o.writeMarksLocked()
		}
	}
}

// writeMarksLocked brings the ack mark of every segment up to date, so a
// restart after SIGKILL does not resend what the broker acknowledged. It
// adds no disk write of its own: the marks are not synced, and the header
// page they change goes with its segment.
func (o *Outbox) writeMarksLocked() {
	for _, s := range o.segs {
		mark := s.ackedThrough()
		if mark <= s.marked {
			continue
		}
		err := s.writeMark(mark)
		switch {
		case err == nil:
			o.markWrites++
		case errors.Is(err, errMarkReadOnly):
			// The dir is read-only, which Stats already reports.
		case !o.loggedMarkErr:
			o.loggedMarkErr = true
			o.log.Warn("outbox cannot record acknowledgements in a segment; after a crash its acknowledged readings are sent again",
				logging.MessageID(logging.MsgDiskError), slog.String("segment", s.path), slog.Any("error", err))
		}
	}
}

// firstPendingLocked returns the oldest pending record on disk.
func (o *Outbox) firstPendingLocked() (*segment, int) {
	for _, s := range o.segs {
		if s.pending > 0 {
			return s, s.first
		}
	}
	return nil, -1
}

// oldestLocked returns the time of the oldest pending reading.
func (o *Outbox) oldestLocked() (int64, bool) {
	if s, i := o.firstPendingLocked(); s != nil {
		return s.recs[i].unixNano, true
	}
	if i := o.firstPendingMem(); i >= 0 {
		return o.mem[i].unixNano, true
	}
	return 0, false
}

// ackedThroughLocked is the highest seq through which nothing is pending.
func (o *Outbox) ackedThroughLocked() uint64 {
	if s, i := o.firstPendingLocked(); s != nil {
		return s.recs[i].seq - 1
	}
	if i := o.firstPendingMem(); i >= 0 {
		return o.mem[i].seq - 1
	}
	return o.next - 1
}
