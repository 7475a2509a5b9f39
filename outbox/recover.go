package outbox

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"

	"github.com/edgepub/edgepub/internal/logging"
)

// errDirConflict means the dir became readable only after readings had
// already been numbered in memory, and it holds readings of its own: the two
// seq ranges may overlap, so they are not merged.
var errDirConflict = errors.New("outbox dir appeared with earlier readings after edgepub had started numbering readings in memory")

// recoverLocked indexes the segments in the dir and decides the next seq.
// It only reads: damaged files are left as they are and reported once.
func (o *Outbox) recoverLocked() error {
	dirents, err := os.ReadDir(o.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err != nil {
		return fmt.Errorf("list outbox dir: %w", err)
	}
	lease, leaseGen, leaseFound, leaseDamaged, err := readLease(o.dir)
	if err != nil {
		return err
	}
	var bases []uint64
	var garbage []string
	for _, de := range dirents {
		name := de.Name()
		if base, ok := parseSegmentName(name); ok && de.Type().IsRegular() {
			bases = append(bases, base)
			continue
		}
		switch name {
		case leaseName, lockName:
		case leaseTmpName:
			// A crash while creating the lease; the rename never happened.
			os.Remove(filepath.Join(o.dir, name))
		default:
			garbage = append(garbage, name)
		}
	}
	handedOut := o.next > 1 || len(o.mem) > 0
	if handedOut && (leaseFound || leaseDamaged || len(bases) > 0) {
		o.diskPermanent = true
		return errDirConflict
	}
	slices.Sort(bases)

	var total segmentDamage
	damagedSegments, marksLost := 0, 0
	var prev, lastRecord, skippedSeq uint64
	segs := make([]*segment, 0, len(bases))
	var buf []byte
	for i, base := range bases {
		var limit uint64
		if i+1 < len(bases) {
			limit = bases[i+1]
		}
		s := &segment{base: base, path: filepath.Join(o.dir, segmentName(base)), created: o.opts.Now()}
		d, b, err := scanSegment(s, prev, limit, buf)
		buf = b
		if err != nil {
			return fmt.Errorf("read outbox segment %s: %w", filepath.Base(s.path), err)
		}
		skippedSeq = max(skippedSeq, d.maxSeq)
		if d.any() {
			damagedSegments++
			total.corruptRegions += d.corruptRegions
			total.lostRecords += d.lostRecords
			total.skippedBytes += d.skippedBytes
			total.tornBytes += d.tornBytes
		}
		if d.marksLost {
			marksLost++
		}
		acked := max(lease.ackedThrough, s.marked)
		for j := range s.recs {
			if s.recs[j].seq <= acked {
				s.recs[j].state = entryAcked
				s.pending--
			}
		}
		s.advance()
		if n := len(s.recs); n > 0 {
			prev = s.recs[n-1].seq
			lastRecord = prev
		}
		segs = append(segs, s)
	}

	// The newest name tells the last seq even when its segment is empty.
	recovered := max(lastRecord, skippedSeq)
	if n := len(bases); n > 0 && bases[n-1]-1 > recovered {
		recovered = bases[n-1] - 1
	}
	next := recovered + 1
	switch {
	case !leaseFound && !leaseDamaged && len(segs) == 0:
		next = max(o.next, 1)
	case !leaseFound:
		// The ceiling is lost with the lease. Every lease write reserved
		// at most leaseStep ahead, so skipping that far is the best guess.
		next = recovered + 1 + leaseStep
		o.logJump(recovered, next, "the lease file is missing or damaged, so the seq ceiling is unknown")
	case leaseFound && lease.bootID != "" && lease.bootID == o.want.bootID && lease.exactResume && len(segs) > 0 && damagedSegments == 0:
		// Same boot and no damage: the page cache survived, so the
		// segments hold every seq handed out. Damage means something
		// outside edgepub changed the files, and a lost record's seq must
		// not be handed out again.
	default:
		next = max(next, lease.ceiling)
		o.logJump(recovered, next, jumpReason(lease, o.want.bootID, len(segs) > 0, damagedSegments > 0))
	}

	if next > seqLimit || lease.ceiling > seqLimit {
		o.diskPermanent = true
		return refused("its segment names or lease put the next seq at %d, near the end of the seq range, so seq would wrap to 0: these files were not written by edgepub; move the dir away (its readings stay in it) and start again", max(next, lease.ceiling))
	}
	o.segs = segs
	o.next = next
	o.damaged += total.lostRecords
	o.want.ceiling = max(lease.ceiling, next)
	if leaseFound {
		o.ceiling = max(o.ceiling, lease.ceiling)
		o.inexactOnDisk = !lease.exactResume
	}
	o.want.ackedThrough = lease.ackedThrough
	o.leaseGen, o.leaseIntact = leaseGen, leaseFound
	o.scanned = true
	for _, s := range segs {
		o.bytes += s.size
		o.backlog += s.pending
	}
	if damagedSegments > 0 || len(garbage) > 0 || leaseDamaged || marksLost > 0 {
		o.log.Warn("outbox damaged: kept every intact record, skipped the damaged bytes, left all files as they are",
			logging.MessageID(logging.MsgOutboxDamaged), slog.String("dir", o.dir),
			slog.Int("damaged_segments", damagedSegments), slog.Int("corrupt_regions", total.corruptRegions),
			slog.Uint64("lost_records", total.lostRecords), slog.Int64("skipped_bytes", total.skippedBytes),
			slog.Int64("torn_tail_bytes", total.tornBytes), slog.Int("foreign_files", len(garbage)),
			slog.Any("foreign_names", garbage), slog.Bool("lease_damaged", leaseDamaged),
			slog.Int("segments_without_ack_marks", marksLost))
	}
	o.openDamage = Damage{
		Segments: damagedSegments, CorruptRegions: total.corruptRegions, LostRecords: total.lostRecords,
		SkippedBytes: total.skippedBytes, TornTailBytes: total.tornBytes, ForeignFiles: len(garbage), LeaseDamaged: leaseDamaged,
		AckMarksLost: marksLost,
	}
	return nil
}

// logJump reports that seq continues at next instead of recovered+1.
func (o *Outbox) logJump(recovered, next uint64, reason string) {
	if next <= recovered+1 {
		return
	}
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
