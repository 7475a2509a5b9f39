package outbox

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/edgepub/edgepub/internal/logging"
)

// errDirConflict means the dir became readable only after readings had
// already been numbered in memory, and it holds readings of its own: the two
// seq ranges may overlap, so they are not merged.
var errDirConflict = errors.New("outbox dir appeared with earlier readings after edgepub had started numbering readings in memory")

// recoverLocked indexes the segments in the dir and decides the next seq,
// in four steps: list the dir, scan the segments, resume seq, report the
// damage. It only reads: damaged files are left as they are and reported
// once.
func (o *Outbox) recoverLocked() error {
	listing, err := listDir(o.dir)
	if err != nil {
		return err
	}
	lease, leaseGen, leaseFound, leaseDamaged, err := readLease(o.dir)
	if err != nil {
		return err
	}
	handedOut := o.seq.peek() > 1 || len(o.mem.recs) > 0
	if handedOut && (leaseFound || leaseDamaged || len(listing.bases) > 0) {
		o.diskPermanent = true
		return errDirConflict
	}
	scan, err := scanSegments(o.dir, listing.bases, lease.ackedThrough, time.Now())
	if err != nil {
		return err
	}
	next := o.resumeSeq(listing.bases, scan, lease, leaseFound, leaseDamaged)
	if next > seqLimit || lease.ceiling > seqLimit {
		o.diskPermanent = true
		return refused("its segment names or lease put the next seq at %d, near the end of the seq range, so seq would wrap to 0: these files were not written by edgepub; move the dir away (its readings stay in it) and start again", max(next, lease.ceiling))
	}

	o.disk.segs = scan.segs
	o.disk.damaged += scan.damage.lostRecords
	for _, s := range scan.segs {
		o.disk.bytes += s.size
		o.disk.pending += s.pending
	}
	o.seq.resume(next, lease, leaseGen, leaseFound)
	o.scanned = true
	o.disk.openDamage = o.reportDamage(scan, listing.foreign, leaseDamaged)
	return nil
}

// dirListing is what the outbox dir holds.
type dirListing struct {
	bases   []uint64 // of the segment files, ascending
	foreign []string // names the outbox did not write
}

// listDir sorts the dir's names into segments and foreign files, and
// removes a lease.tmp that a crash left behind.
func listDir(dir string) (dirListing, error) {
	dirents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return dirListing{}, err
	}
	if err != nil {
		return dirListing{}, fmt.Errorf("list outbox dir: %w", err)
	}
	var l dirListing
	for _, de := range dirents {
		name := de.Name()
		if base, ok := parseSegmentName(name); ok && de.Type().IsRegular() {
			l.bases = append(l.bases, base)
			continue
		}
		switch name {
		case leaseName, lockName:
		case leaseTmpName:
			// A crash while creating the lease; the rename never happened.
			os.Remove(filepath.Join(dir, name))
		default:
			l.foreign = append(l.foreign, name)
		}
	}
	slices.Sort(l.bases)
	return l, nil
}

// segmentScan is what scanning the segment files found.
type segmentScan struct {
	segs []*segment
	// damage sums the damage of all segments; damagedSegments counts the
	// segments with damage, marksLost those without an intact ack mark.
	damage          segmentDamage
	damagedSegments int
	marksLost       int
	// lastRecord is the seq of the newest intact record in order;
	// skippedSeq the highest seq of an intact record out of order.
	lastRecord, skippedSeq uint64
}

// scanSegments indexes the segments named by bases. Records up to the ack
// mark of their segment, or up to ackedThrough from the lease, are acked.
func scanSegments(dir string, bases []uint64, ackedThrough uint64, now time.Time) (segmentScan, error) {
	sc := segmentScan{segs: make([]*segment, 0, len(bases))}
	var prev uint64
	var buf []byte
	for i, base := range bases {
		var limit uint64
		if i+1 < len(bases) {
			limit = bases[i+1]
		}
		s := &segment{base: base, path: filepath.Join(dir, segmentName(base)), created: now}
		if limit != 0 {
			done, err := skipIfAcked(s, ackedThrough, limit)
			if err != nil {
				return sc, fmt.Errorf("read outbox segment %s: %w", filepath.Base(s.path), err)
			}
			if done {
				prev = limit - 1
				sc.segs = append(sc.segs, s)
				continue
			}
		}
		d, b, err := scanSegment(s, prev, limit, buf)
		buf = b
		if err != nil {
			return sc, fmt.Errorf("read outbox segment %s: %w", filepath.Base(s.path), err)
		}
		sc.skippedSeq = max(sc.skippedSeq, d.maxSeq)
		if d.any() {
			sc.damagedSegments++
			sc.damage.corruptRegions += d.corruptRegions
			sc.damage.lostRecords += d.lostRecords
			sc.damage.skippedBytes += d.skippedBytes
			sc.damage.tornBytes += d.tornBytes
		}
		if d.marksLost {
			sc.marksLost++
		}
		acked := max(ackedThrough, s.ackMark)
		for j := range s.recs {
			if s.recs[j].seq <= acked {
				s.recs[j].state = stateAcked
				s.pending--
			}
		}
		s.advance()
		if n := len(s.recs); n > 0 {
			prev = s.recs[n-1].seq
			sc.lastRecord = prev
		}
		sc.segs = append(sc.segs, s)
	}
	return sc, nil
}

// resumeSeq decides the seq to hand out next and logs a jump. Within one
// boot and without damage the segments tell the last seq; otherwise seq
// continues from the lease ceiling, or, with the lease lost, a full
// leaseStep beyond the last seq found.
func (o *Outbox) resumeSeq(bases []uint64, scan segmentScan, lease leaseState, leaseFound, leaseDamaged bool) uint64 {
	// The newest name tells the last seq even when its segment is empty.
	recovered := max(scan.lastRecord, scan.skippedSeq)
	if n := len(bases); n > 0 && bases[n-1]-1 > recovered {
		recovered = bases[n-1] - 1
	}
	next := recovered + 1
	bootID := o.seq.bootID()
	switch {
	case !leaseFound && !leaseDamaged && len(scan.segs) == 0:
		next = max(o.seq.peek(), 1)
	case !leaseFound:
		// The ceiling is lost with the lease. Every lease write reserved
		// at most leaseStep ahead, so skipping that far is the best guess.
		next = recovered + 1 + leaseStep
		o.logJump(recovered, next, "the lease file is missing or damaged, so the seq ceiling is unknown")
	case lease.bootID != "" && lease.bootID == bootID && lease.exactResume && len(scan.segs) > 0 && scan.damagedSegments == 0:
		// Same boot and no damage: the page cache survived, so the
		// segments hold every seq handed out. Damage means something
		// outside edgepub changed the files, and a lost record's seq must
		// not be handed out again.
	default:
		next = max(next, lease.ceiling)
		o.logJump(recovered, next, jumpReason(lease, bootID, len(scan.segs) > 0, scan.damagedSegments > 0))
	}
	return next
}

// reportDamage logs what recovery skipped, once, and returns it for Stats.
func (o *Outbox) reportDamage(scan segmentScan, foreign []string, leaseDamaged bool) Damage {
	d := scan.damage
	if scan.damagedSegments > 0 || len(foreign) > 0 || leaseDamaged || scan.marksLost > 0 {
		o.log.Warn("outbox damaged: kept every intact record, skipped the damaged bytes, left all files as they are",
			logging.MessageID(logging.MsgOutboxDamaged), slog.String("dir", o.dir),
			slog.Int("damaged_segments", scan.damagedSegments), slog.Int("corrupt_regions", d.corruptRegions),
			slog.Uint64("lost_records", d.lostRecords), slog.Int64("skipped_bytes", d.skippedBytes),
			slog.Int64("torn_tail_bytes", d.tornBytes), slog.Int("foreign_files", len(foreign)),
			slog.Any("foreign_names", foreign), slog.Bool("lease_damaged", leaseDamaged),
			slog.Int("segments_without_ack_marks", scan.marksLost))
	}
	return Damage{
		Segments: scan.damagedSegments, CorruptRegions: d.corruptRegions, LostRecords: d.lostRecords,
		SkippedBytes: d.skippedBytes, TornTailBytes: d.tornBytes, ForeignFiles: len(foreign), LeaseDamaged: leaseDamaged,
		AckMarksLost: scan.marksLost,
	}
}

// logJump reports that seq continues at next instead of recovered+1.
func (o *Outbox) logJump(recovered, next uint64, reason string) {
	if next <= recovered+1 {
		return
	}
	o.skipped = SeqRange{First: recovered + 1, Last: next - 1, Reason: reason}
	o.log.Warn("outbox seq jumped: the skipped seqs may have been handed out before the page cache was lost, so they are not used again",
		logging.MessageID(logging.MsgSeqJumped), slog.String("dir", o.dir),
		slog.Uint64("from", recovered+1), slog.Uint64("to", next), slog.Uint64("by", next-recovered-1),
		slog.String("reason", reason))
}

func jumpReason(lease leaseState, bootID string, haveSegments, damaged bool) string {
	switch {
	case lease.bootID == "" || bootID == "":
		return "boot id unknown, so the page cache may have been lost"
	case lease.bootID != bootID:
		return "the system rebooted or lost power since the last run"
	case !lease.exactResume:
		return "the last run kept readings in memory while the disk failed"
	case !haveSegments:
		return "the segment files are missing"
	case damaged:
		return "segment files are damaged, so the last seq handed out is unknown"
	}
	return "unknown"
}

// SeqRange is a span of seqs, both ends included, that Open skipped: none
// is handed out (again), and the readings a power cut took are among them,
// so a consumer can count a gap inside it as declared, not unexplained.
type SeqRange struct {
	First  uint64 `json:"first"`
	Last   uint64 `json:"last"`
	Reason string `json:"reason"`
}

// Damage is what Open found damaged in the dir and skipped.
type Damage struct {
	// Segments is how many segment files had damage.
	Segments int
	// CorruptRegions counts damaged spans followed by intact records.
	CorruptRegions int
	// LostRecords counts the seqs missing around corrupt regions.
	LostRecords uint64
	// SkippedBytes is the size of the corrupt regions.
	SkippedBytes int64
	// TornTailBytes counts bytes at segment ends that hold no whole record,
	// as a crash during a write or a power cut leaves them.
	TornTailBytes int64
	// ForeignFiles counts files in the dir that the outbox did not write;
	// they are left alone.
	ForeignFiles int
	// LeaseDamaged is true when the lease file had no intact slot.
	LeaseDamaged bool
	// AckMarksLost counts segments holding records whose header had no
	// intact ack slot: their acknowledged readings are sent again. No
	// reading is lost, so this alone does not make seq jump.
	AckMarksLost int
}

// skipIfAcked indexes s without reading its records when ackedThrough or
// the intact ack mark in its header covers every seq below limit, the next
// segment's base: all its records are acknowledged, so Run deletes the file
// on its first tick and reading it would only delay the start (64 MiB of
// acknowledged segments, left by a SIGKILL after a drained backlog, took
// most of 100 ms to scan). Such a segment is not checked for damage: no
// record of it is pending, and the outbox never writes a seq at or above
// the next segment's base into it.
func skipIfAcked(s *segment, ackedThrough, limit uint64) (bool, error) {
	if ackedThrough < limit-1 {
		mark, _, found, err := readSegmentHeader(s.path, s.base)
		if err != nil || !found || mark < limit-1 {
			return false, err
		}
		s.ackMark = mark
	}
	fi, err := os.Stat(s.path)
	if err != nil {
		return false, err
	}
	s.size, s.synced, s.dirSynced = fi.Size(), fi.Size(), true
	s.acked = true
	return true, nil
}
