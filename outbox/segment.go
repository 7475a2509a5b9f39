package outbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Segment files are named after the first seq they may hold, zero-padded so
// that names sort like seqs. The name alone tells the last seq handed out
// while the newest segment is still empty.
const (
	segmentSuffix    = ".seg"
	segmentDigits    = 20
	scanChunk        = 256 << 10
	maxReadSpanBytes = 1 << 20
	maxReadGapBytes  = 4 << 10
)

// recordState is where a record is in its life: pending from Append until
// the broker acknowledges it or the outbox drops it (full, too old, damaged).
type recordState uint8

const (
	statePending recordState = iota
	stateAcked
	stateDropped
)

func segmentName(base uint64) string {
	return fmt.Sprintf("%0*d%s", segmentDigits, base, segmentSuffix)
}

func parseSegmentName(name string) (uint64, bool) {
	digits, ok := strings.CutSuffix(name, segmentSuffix)
	if !ok || len(digits) != segmentDigits {
		return 0, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	base, err := strconv.ParseUint(digits, 10, 64)
	return base, err == nil
}

// entry is the in-memory index of one record: 32 bytes, so a backlog of
// 100,000 readings costs about 3 MB of RAM while the payloads stay on disk.
type entry struct {
	seq      uint64
	off      int64
	unixNano int64
	size     uint32 // payload length
	state    recordState
}

// segment is one append-only file of records with ascending seqs.
type segment struct {
	base uint64
	path string
	// file is open while the segment is written, read, marked or awaits a
	// sync; readOnly when it could only be opened for reading.
	file     *os.File
	readOnly bool
	size     int64
	// synced is how many bytes are known to be on stable storage.
	synced    int64
	dirSynced bool
	recs      []entry
	// pending counts records neither acked nor dropped; first is the index
	// before which no record is pending.
	pending int
	first   int
	created time.Time
	// ackMark is the acked-through mark in the header, as written or as
	// read by Open; ackMarkSlot is the slot the next one goes to.
	ackMark     uint64
	ackMarkSlot int
	// acked means Open found every record acknowledged without indexing
	// them, so recs is empty and the file is to be deleted.
	acked bool
}

// advance moves first past records that are no longer pending.
func (s *segment) advance() {
	for s.first < len(s.recs) && s.recs[s.first].state != statePending {
		s.first++
	}
}

// find returns the index of seq in s.recs, or -1.
func (s *segment) find(seq uint64) int {
	if seq >= s.base && seq-s.base < uint64(len(s.recs)) {
		if i := int(seq - s.base); s.recs[i].seq == seq {
			return i
		}
	}
	i := sort.Search(len(s.recs), func(i int) bool { return s.recs[i].seq >= seq })
	if i < len(s.recs) && s.recs[i].seq == seq {
		return i
	}
	return -1
}

// after returns the index of the first record with a seq above seq.
func (s *segment) after(seq uint64) int {
	if seq < s.base {
		return 0
	}
	return sort.Search(len(s.recs), func(i int) bool { return s.recs[i].seq > seq })
}

// settle ends a pending record's life as acked or dropped and reports
// whether it was pending.
func (s *segment) settle(i int, state recordState) bool {
	if s.recs[i].state != statePending {
		return false
	}
	s.recs[i].state = state
	s.pending--
	if i == s.first {
		s.advance()
	}
	return true
}

// openFile opens the segment for reading and, where the dir allows it, for
// writing ack marks.
func (s *segment) openFile() error {
	if s.file != nil {
		return nil
	}
	f, err := openNoFollow(s.path, os.O_RDWR, 0)
	readOnly := false
	if err != nil {
		if f, err = openNoFollow(s.path, os.O_RDONLY, 0); err != nil {
			return err
		}
		readOnly = true
	}
	s.file, s.readOnly = f, readOnly
	return nil
}

func (s *segment) closeFile() {
	if s.file != nil {
		s.file.Close()
		s.file = nil
	}
}

// segmentDamage counts what a scan had to skip.
type segmentDamage struct {
	corruptRegions int
	lostRecords    uint64
	skippedBytes   int64
	tornBytes      int64
	// maxSeq is the highest seq of an intact record that was skipped.
	maxSeq uint64
	// marksLost is true when the segment holds records but its header has
	// no intact ack slot: its acknowledged readings are sent again.
	marksLost bool
}

func (d segmentDamage) any() bool { return d.corruptRegions > 0 || d.tornBytes > 0 }

// scanSegment reads the header's ack mark into s.ackMark and indexes every
// intact record of the file at path. A record is accepted only if its
// checksum matches and its seq lies in [s.base, limit) above prev, so a
// damaged length or a stale record cannot shift or reorder the rest; after a
// bad spot the scan moves on byte by byte until the next record that passes.
// A file shorter than the header is a torn first write. Nothing in the file
// is changed.
// buf is a reusable read buffer; the one used is returned for the next call.
func scanSegment(s *segment, prev, limit uint64, buf []byte) (segmentDamage, []byte, error) {
	f, err := openNoFollow(s.path, os.O_RDONLY, 0)
	if err != nil {
		return segmentDamage{}, buf, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil {
		// Index capacity for typical readings, so a large backlog is not
		// indexed through repeated slice doubling.
		s.recs = make([]entry, 0, fi.Size()/(recordHeaderSize+160)+1)
	}
	return scanRecords(f, s, prev, limit, buf)
}

// scanRecords is scanSegment on any reader.
func scanRecords(f io.Reader, s *segment, prev, limit uint64, buf []byte) (segmentDamage, []byte, error) {
	var d segmentDamage
	if cap(buf) < scanChunk {
		buf = make([]byte, 0, scanChunk)
	}
	buf = buf[:0]
	var bufOff int64 // file offset of buf[0]
	pos := 0
	eof := false
	badStart := int64(-1)
	lastGood := prev
	fill := func(need int) error {
		copy(buf, buf[pos:])
		buf = buf[:len(buf)-pos]
		bufOff += int64(pos)
		pos = 0
		if need > cap(buf) {
			grown := make([]byte, len(buf), need)
			copy(grown, buf)
			buf = grown
		}
		for len(buf) < need && !eof {
			n, err := f.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			if errors.Is(err, io.EOF) {
				eof = true
			} else if err != nil {
				return err
			}
		}
		return nil
	}
	if err := fill(segmentHeaderSize); err != nil {
		return d, buf, err
	}
	if len(buf) >= segmentHeaderSize {
		mark, slot, found := decodeSegmentHeader(buf[:segmentHeaderSize], s.base)
		s.ackMark, s.ackMarkSlot = mark, (slot+1)%ackSlots
		d.marksLost = !found
		pos = segmentHeaderSize
	} else {
		pos = len(buf) // torn: not even the header is whole
	}
	for {
		if len(buf)-pos < recordHeaderSize && !eof {
			if err := fill(max(recordHeaderSize, scanChunk)); err != nil {
				return d, buf, err
			}
			continue
		}
		if len(buf)-pos < recordHeaderSize {
			break
		}
		if seq, n, ok := peekHeader(buf[pos:]); ok && seq >= s.base && seq > lastGood {
			need := recordHeaderSize + n
			if len(buf)-pos < need && !eof {
				if err := fill(max(need, scanChunk)); err != nil {
					return d, buf, err
				}
				continue
			}
			rec, size, err := decodeRecord(buf[pos:])
			if err == nil && limit != 0 && rec.Seq >= limit {
				// Intact but in the next segment's range: its seq was
				// handed out, yet its place in the order is unknown.
				d.maxSeq = max(d.maxSeq, rec.Seq)
				err = errBadLength
			}
			if err == nil {
				off := bufOff + int64(pos)
				if badStart >= 0 {
					d.corruptRegions++
					d.skippedBytes += off - badStart
					d.lostRecords += rec.Seq - lastGood - 1
					badStart = -1
				}
				s.recs = append(s.recs, entry{seq: rec.Seq, off: off, unixNano: timeToNanos(rec.Time), size: uint32(len(rec.Payload))})
				lastGood = rec.Seq
				pos += size
				continue
			}
		}
		if badStart < 0 {
			badStart = bufOff + int64(pos)
		}
		pos++
	}
	end := bufOff + int64(len(buf))
	if badStart < 0 && pos < len(buf) {
		badStart = bufOff + int64(pos)
	}
	if badStart >= 0 {
		d.tornBytes = end - badStart
	}
	if end < segmentHeaderSize {
		d.tornBytes = end
	}
	d.marksLost = d.marksLost && len(s.recs) > 0
	s.size = end
	s.synced = end
	s.dirSynced = true
	s.pending = len(s.recs)
	if cap(s.recs)-len(s.recs) > len(s.recs)/8 {
		s.recs = slices.Clone(s.recs)
	}
	return d, buf, nil
}
