package outbox

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/edgepub/edgepub/internal/logging"
)

const (
	// rotateAfter is how old a segment whose records the broker acked gets
	// before it is replaced and deleted. Deleting it well before the
	// kernel writes dirty pages back (30 s by default) cancels that
	// writeback, so a healthy link keeps readings off the SD card.
	rotateAfter = 5 * time.Second
	// syncMarksPerTick is how many sync marks start per tick at most, so a
	// record is synced at most a quarter of a tick early.
	syncMarksPerTick = 4
	// maxScratch bounds the encode buffer kept between appends.
	maxScratch = 64 << 10
)

// segmentLog is the queue on disk: the segment files in seq order, the
// newest of them (active) taking appends. It owns every record's life on
// disk, from append through the sync mark that says it still needs an
// fsync and the ack mark in its segment's header, to the deletion of its
// segment. The Outbox's mu guards it.
type segmentLog struct {
	dir       string
	opts      *Opts
	logger    *slog.Logger
	tickEvery time.Duration

	segs   []*segment
	active *segment // nil while the disk fails
	// pending counts records neither acked nor dropped; bytes is the size
	// of the segment files.
	pending int
	bytes   int64
	// syncMarks say where the records written since the last fsync start:
	// mark i covers the seqs from its seq up to the next mark's (the last
	// one up to the next seq), and at is when its oldest record was taken
	// (or appended, if that was earlier). A new mark starts
	// syncMarksPerTick times a tick, so there are a few per second at any
	// rate, and the deadline they give errs towards syncing early.
	syncMarks []syncMark
	// syncLead is how much earlier than SyncWindow the next fsync starts:
	// the last fsync's duration, or half the previous lead if that was
	// longer, so one slow fsync moves the next ones forward for a while.
	syncLead time.Duration
	scratch  []byte
	syncs    uint64
	// lastAckMarkAt is when Ack last wrote ack marks (Unix nanoseconds);
	// ackMarkWrites counts the slot writes.
	lastAckMarkAt int64
	ackMarkWrites uint64

	droppedFull, damaged                             uint64
	full                                             episode
	openDamage                                       Damage
	loggedRemoveErr, loggedReadErr, loggedAckMarkErr bool
}

type syncMark struct {
	seq uint64
	at  int64
}

// episode tracks one stretch of drops so it is logged once, not per reading.
type episode struct {
	active  bool
	dropped uint64
}

// createSegment starts a new active segment named after base. The old
// active one stays until its records are acked: a new name is always on disk
// before an old one goes, so the newest name tells the last seq.
func (l *segmentLog) createSegment(base uint64) (*segment, error) {
	path := filepath.Join(l.dir, segmentName(base))
	flags := os.O_RDWR | os.O_CREATE | os.O_EXCL
	var reuse *segment
	if n := len(l.segs); n > 0 && l.segs[n-1].base == base {
		// An empty newest segment, or one holding only damage, named for
		// exactly this seq: write into it instead.
		reuse = l.segs[n-1]
		if len(reuse.recs) > 0 {
			return nil, fmt.Errorf("outbox segment %s already holds records", filepath.Base(path))
		}
		flags = os.O_RDWR | os.O_CREATE | os.O_TRUNC
	}
	f, err := openNoFollow(path, flags, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create outbox segment: %w", err)
	}
	seg := reuse
	if seg == nil {
		seg = &segment{base: base, path: path}
		l.segs = append(l.segs, seg)
	} else {
		seg.closeFile()
		l.bytes -= seg.size
		seg.size, seg.synced = 0, 0
	}
	seg.file, seg.readOnly, seg.dirSynced, seg.created = f, false, false, time.Now()
	seg.ackMark, seg.ackMarkSlot = 0, 1 // the header's slot 0 holds mark 0
	l.active = seg
	return seg, nil
}

// adopt writes the pending records of mem into seg, oldest first, and
// fsyncs them: they were numbered while the disk failed and must not wait
// for a sync window again.
func (l *segmentLog) adopt(seg *segment, mem []memRecord) error {
	var buf []byte
	if seg.size == 0 {
		buf = appendSegmentHeader(buf, seg.base)
	}
	var recs []entry
	off := seg.size
	for _, m := range mem {
		if m.state != statePending {
			continue
		}
		recs = append(recs, entry{seq: m.seq, off: off + int64(len(buf)), unixNano: m.unixNano, size: uint32(len(m.payload))})
		buf = appendRecord(buf, m.seq, nanosToTime(m.unixNano), m.payload)
	}
	if len(recs) == 0 {
		return nil
	}
	if err := l.write(seg, buf); err != nil {
		return err
	}
	if err := seg.file.Sync(); err != nil {
		return fmt.Errorf("sync outbox segment: %w", err)
	}
	if err := syncDir(l.dir); err != nil {
		return err
	}
	l.syncs++
	seg.synced, seg.dirSynced = seg.size, true
	seg.recs = append(seg.recs, recs...)
	seg.pending += len(recs)
	l.pending += len(recs)
	return nil
}

// write appends buf to seg with one write(2): once it returns the records
// survive the death of the process.
func (l *segmentLog) write(seg *segment, buf []byte) error {
	n, err := seg.file.WriteAt(buf, seg.size)
	if err != nil {
		// Take a partial record back so the next write starts clean; if
		// even that fails, recovery skips it as a torn tail.
		if n > 0 && seg.file.Truncate(seg.size) != nil {
			seg.size += int64(n)
			l.bytes += int64(n)
		}
		return fmt.Errorf("write outbox segment: %w", err)
	}
	seg.size += int64(len(buf))
	l.bytes += int64(len(buf))
	return nil
}

// syncRecovered fsyncs recovered segments after a restart within the same
// boot: a killed process may have left records only in the page cache.
func (l *segmentLog) syncRecovered() {
	for _, s := range l.segs {
		if s == l.active || s.pending == 0 {
			continue
		}
		if err := s.openFile(); err != nil {
			continue
		}
		if s.file.Sync() == nil {
			l.syncs++
		}
		s.closeFile()
	}
}

// append writes one record to the active segment, starting a new one when
// it is full and making room under MaxBytes first.
func (l *segmentLog) append(seq uint64, t time.Time, payload []byte, now time.Time) error {
	size := int64(encodedSize(len(payload)))
	seg := l.active
	if len(seg.recs) > 0 && seg.size+size > l.opts.SegmentBytes {
		var err error
		if seg, err = l.createSegment(seq); err != nil {
			return err
		}
	}
	buf := l.scratch[:0]
	if seg.size == 0 {
		buf = appendSegmentHeader(buf, seg.base)
	}
	l.makeRoom(size + int64(len(buf)))
	off := seg.size + int64(len(buf))
	buf = appendRecord(buf, seq, t, payload)
	if cap(buf) <= maxScratch {
		l.scratch = buf
	}
	if err := l.write(seg, buf); err != nil {
		return err
	}
	seg.recs = append(seg.recs, entry{seq: seq, off: off, unixNano: timeToNanos(t), size: uint32(len(payload))})
	seg.pending++
	l.pending++
	// The window counts from when the reading was taken: it may have waited
	// for Append, e.g. while a busy disk held up the lock.
	at := now.UnixNano()
	if taken := timeToNanos(t); taken > 0 && taken < at {
		at = taken
	}
	switch n := len(l.syncMarks); {
	case n == 0 || time.Duration(at-l.syncMarks[n-1].at) >= l.tickEvery/syncMarksPerTick:
		l.syncMarks = append(l.syncMarks, syncMark{seq: seq, at: at})
	case at < l.syncMarks[n-1].at:
		l.syncMarks[n-1].at = at // taken before the mark's first reading
	}
	return nil
}

// makeRoom drops the oldest segments until size more bytes fit under
// MaxBytes. The active segment stays; it is at most MaxBytes/8.
func (l *segmentLog) makeRoom(size int64) {
	for l.bytes+size > l.opts.MaxBytes && len(l.segs) > 0 && l.segs[0] != l.active {
		s := l.segs[0]
		if s.pending > 0 {
			if !l.full.active {
				l.full.active = true
				l.logger.Warn("outbox is full: dropping the oldest readings to keep the newest",
					logging.MessageID(logging.MsgReadingsDropped), slog.String("dir", l.dir),
					slog.Int64("max_bytes", l.opts.MaxBytes), slog.Time("oldest_kept", nanosToTime(l.firstKeptAfter(s))))
			}
			l.droppedFull += uint64(s.pending)
			l.full.dropped += uint64(s.pending)
			l.pending -= s.pending
		}
		l.removeSegment(0)
	}
}

// firstKeptAfter is the time of the first record after dropping s.
func (l *segmentLog) firstKeptAfter(s *segment) int64 {
	for _, t := range l.segs {
		if t != s && t.first < len(t.recs) {
			return t.recs[t.first].unixNano
		}
	}
	return 0
}

// removeSegment deletes segment i, file and index entry.
func (l *segmentLog) removeSegment(i int) {
	s := l.segs[i]
	s.closeFile()
	if err := removeFile(s.path); err != nil && !l.loggedRemoveErr {
		l.loggedRemoveErr = true
		l.logger.Error("outbox cannot delete a finished segment; it will be sent again after a restart",
			logging.MessageID(logging.MsgDiskError), slog.String("dir", l.dir), slog.Any("error", err))
	}
	l.bytes -= s.size
	l.segs = append(l.segs[:i], l.segs[i+1:]...)
}

// read appends to out the pending records above after, up to limit in all.
// Payloads come from disk (usually the page cache); each record's checksum
// is checked again, and a record that no longer reads back intact is
// dropped and counted as damaged rather than blocking the queue.
func (l *segmentLog) read(after uint64, limit int, out []Record) []Record {
	for si := l.segmentIndex(after + 1); si < len(l.segs) && len(out) < limit; si++ {
		s := l.segs[si]
		var want []int
		for i := max(s.first, s.after(after)); i < len(s.recs) && len(out)+len(want) < limit; i++ {
			if s.recs[i].state == statePending {
				want = append(want, i)
			}
		}
		if len(want) > 0 {
			out = l.readRecords(s, want, out)
		}
	}
	return out
}

// segmentIndex returns the index of the segment that would hold seq: the
// last one whose base is not above it.
func (l *segmentLog) segmentIndex(seq uint64) int {
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].base > seq })
	if i > 0 {
		i--
	}
	return i
}

// readRecords reads the records s.recs[want...] and appends them to out.
// Records close together on disk are read with one pread.
func (l *segmentLog) readRecords(s *segment, want []int, out []Record) []Record {
	if err := s.openFile(); err != nil {
		l.lose(s, want, err)
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
			l.lose(s, want[:n], err)
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
				l.lose(s, []int{i}, err)
				continue
			}
			out = append(out, rec)
		}
		want = want[n:]
	}
	return out
}

// lose drops records that can no longer be read back intact.
func (l *segmentLog) lose(s *segment, idx []int, err error) {
	for _, i := range idx {
		if s.settle(i, stateDropped) {
			l.damaged++
			l.pending--
		}
	}
	if !l.loggedReadErr {
		l.loggedReadErr = true
		l.logger.Error("outbox cannot read readings back; dropping them so the rest keep flowing",
			logging.MessageID(logging.MsgOutboxDamaged), slog.String("dir", l.dir),
			slog.String("segment", s.path), slog.Int("records", len(idx)), slog.Any("error", err))
	}
}

// ack ends seq's life as acknowledged, and brings the ack marks up to date
// at most every ackMarkEvery. Unknown and settled seqs are ignored.
func (l *segmentLog) ack(seq uint64) {
	if len(l.segs) == 0 {
		return
	}
	s := l.segs[l.segmentIndex(seq)]
	if i := s.find(seq); i >= 0 && s.settle(i, stateAcked) {
		l.pending--
		if ns := time.Now().UnixNano(); ns-l.lastAckMarkAt >= int64(ackMarkEvery) {
			l.lastAckMarkAt = ns
			l.writeAckMarks()
		}
	}
}

// writeAckMarks brings the ack mark of every segment up to date, so a
// restart after SIGKILL does not resend what the broker acknowledged. It
// adds no disk write of its own: the marks are not synced, and the header
// page they change goes with its segment.
func (l *segmentLog) writeAckMarks() {
	for _, s := range l.segs {
		mark := s.ackedThrough()
		if mark <= s.ackMark {
			continue
		}
		err := s.writeAckMark(mark)
		switch {
		case err == nil:
			l.ackMarkWrites++
		case errors.Is(err, errMarkReadOnly):
			// The dir is read-only, which Stats already reports.
		case !l.loggedAckMarkErr:
			l.loggedAckMarkErr = true
			l.logger.Warn("outbox cannot record acknowledgements in a segment; after a crash its acknowledged readings are sent again",
				logging.MessageID(logging.MsgDiskError), slog.String("segment", s.path), slog.Any("error", err))
		}
	}
}

// firstPending returns the oldest pending record: its segment and index.
func (l *segmentLog) firstPending() (*segment, int) {
	for _, s := range l.segs {
		if s.pending > 0 {
			return s, s.first
		}
	}
	return nil, -1
}

// syncMarkEnd is the seq after the range of sync mark i; next is the seq
// handed out next.
func (l *segmentLog) syncMarkEnd(i int, next uint64) uint64 {
	if i+1 < len(l.syncMarks) {
		return l.syncMarks[i+1].seq
	}
	return next
}

// anyPending tells whether a record with a seq in [lo, hi) is pending.
func (l *segmentLog) anyPending(lo, hi uint64) bool {
	for si := l.segmentIndex(lo); si < len(l.segs) && l.segs[si].base < hi; si++ {
		s := l.segs[si]
		i := s.first
		if lo > 0 {
			i = max(i, s.after(lo-1))
		}
		for ; i < len(s.recs) && s.recs[i].seq < hi; i++ {
			if s.recs[i].state == statePending {
				return true
			}
		}
	}
	return false
}

// syncJob is one segment's fsync, done without the Outbox's lock.
type syncJob struct {
	seg  *segment
	f    *os.File
	upto int64
	dir  bool
}

// dueSyncs tells whether an fsync is due, because the oldest
// unacknowledged, unsynced record is about to be SyncWindow old, and returns
// the segments' fsyncs. Records the broker acknowledged in time are never
// synced: while the link is healthy nothing is due.
func (l *segmentLog) dueSyncs(now time.Time, next uint64) (jobs []syncJob, due bool, err error) {
	for len(l.syncMarks) > 0 && !l.anyPending(l.syncMarks[0].seq, l.syncMarkEnd(0, next)) {
		l.syncMarks = l.syncMarks[1:]
	}
	if len(l.syncMarks) == 0 {
		l.syncMarks = nil
		return nil, false, nil
	}
	// Readings taken out of order can leave an older mark behind a newer.
	oldest := l.syncMarks[0].at
	for _, m := range l.syncMarks[1:] {
		oldest = min(oldest, m.at)
	}
	// The records are safe only when the fsync returns, so it starts one
	// tick plus the expected fsync time before the window ends.
	if time.Duration(now.UnixNano()-oldest) < l.opts.SyncWindow-l.tickEvery-l.syncLead {
		return nil, false, nil
	}
	for _, s := range l.segs {
		if s.pending > 0 && s.synced < s.size {
			if err := s.openFile(); err != nil {
				return jobs, true, err
			}
			jobs = append(jobs, syncJob{seg: s, f: s.file, upto: s.size, dir: !s.dirSynced})
		}
	}
	return jobs, true, nil
}

// syncsDone records which fsyncs of jobs succeeded (done). Unless one
// failed, the jobs covered every seq through covered; with a failure the
// sync marks are given up, as the Outbox stops using the disk.
func (l *segmentLog) syncsDone(jobs []syncJob, done []bool, failed bool, covered, next uint64) {
	for i, j := range jobs {
		if done[i] {
			j.seg.synced = max(j.seg.synced, j.upto)
			j.seg.dirSynced = j.seg.dirSynced || j.dir
		}
	}
	if failed {
		l.syncMarks = nil
		return
	}
	if len(jobs) > 0 {
		l.syncs++
	}
	// Records appended during the fsync keep their mark.
	for len(l.syncMarks) > 0 {
		if l.syncMarkEnd(0, next) <= covered+1 {
			l.syncMarks = l.syncMarks[1:]
			continue
		}
		l.syncMarks[0].seq = max(l.syncMarks[0].seq, covered+1)
		break
	}
}

// dropOlder drops pending records taken before cutoff (Unix nanoseconds),
// oldest first, and returns how many.
func (l *segmentLog) dropOlder(cutoff int64) uint64 {
	var n uint64
	for _, s := range l.segs {
		for s.first < len(s.recs) && s.recs[s.first].unixNano < cutoff {
			s.settle(s.first, stateDropped)
			l.pending--
			n++
		}
		if s.first < len(s.recs) {
			break
		}
	}
	return n
}

// rotateIfDelivered replaces an active segment that is a few seconds old
// when the broker is keeping up: all its records are acked, or the pending
// ones are younger than SyncWindow and will be acked shortly. The old file
// is deleted once its last record is acked, normally before the kernel
// would write its pages back. next is the seq handed out next.
func (l *segmentLog) rotateIfDelivered(now time.Time, next uint64) error {
	a := l.active
	if a == nil || len(a.recs) == 0 || now.Sub(a.created) < rotateAfter {
		return nil
	}
	if a.pending > 0 && !l.recentlyAppended(a.recs[a.first].seq, now) {
		return nil
	}
	_, err := l.createSegment(next)
	return err
}

// recentlyAppended tells whether seq is unsynced and was appended less than
// SyncWindow ago.
func (l *segmentLog) recentlyAppended(seq uint64, now time.Time) bool {
	i := sort.Search(len(l.syncMarks), func(i int) bool { return l.syncMarks[i].seq > seq }) - 1
	return i >= 0 && time.Duration(now.UnixNano()-l.syncMarks[i].at) < l.opts.SyncWindow
}

// reclaim deletes segments without pending records. The newest segment
// stays: its name tells the last seq after a crash. So does a segment file
// holding no intact record at all: that is damage for a person to look at,
// and only the MaxBytes cap removes it.
func (l *segmentLog) reclaim() {
	for i := 0; i < len(l.segs)-1; {
		if s := l.segs[i]; s.pending == 0 && s != l.active && (len(s.recs) > 0 || s.size == 0 || s.acked) {
			l.removeSegment(i)
			continue
		}
		i++
	}
}

// closeIdleFiles closes files that are neither written, awaiting a sync,
// nor the one the publisher is reading from.
func (l *segmentLog) closeIdleFiles() {
	reading, _ := l.firstPending()
	for _, s := range l.segs {
		if s.file != nil && s != l.active && s != reading && (s.synced >= s.size || s.pending == 0) {
			s.closeFile()
		}
	}
}

// close syncs the segments holding unacknowledged records and closes every
// file.
func (l *segmentLog) close() []error {
	var errs []error
	for _, s := range l.segs {
		if s.file != nil && s.pending > 0 && s.synced < s.size {
			if err := s.file.Sync(); err != nil {
				errs = append(errs, fmt.Errorf("sync outbox segment %s: %w", filepath.Base(s.path), err))
			}
		}
		s.closeFile()
	}
	return errs
}
