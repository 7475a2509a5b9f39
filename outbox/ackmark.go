package outbox

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"time"
)

// Every segment file starts with a header of two ack slots, each in its own
// 512-byte sector. A slot holds the segment's acked-through mark: every
// record of the segment with a seq up to it was acknowledged (or dropped).
// Marks are rewritten in place with pwrite and never fsynced: the page cache
// survives a SIGKILL, so a restart resends only what was not yet acked, and
// the header page is dirty anyway while records are appended and goes with
// the segment, so a healthy link adds no disk write. The slots are written
// alternately and Open takes the highest intact one, so a slot torn by a
// power cut falls back to the previous mark: more duplicates, never a
// skipped reading.
const (
	segmentHeaderSize = ackSlots * ackSlotSize
	ackSlots          = 2
	ackSlotSize       = 512
	ackMagic          = "EPSG"
	ackVersion        = 1
	// ackSlotBodySize is magic(4) + version(1) + zero(3) + base(8) +
	// acked-through(8); the CRC-32C of the body follows.
	ackSlotBodySize = 24
	ackSlotLen      = ackSlotBodySize + 4
	// ackMarkEvery bounds how often Ack rewrites marks: a SIGKILL resends
	// at most this much of acknowledged readings besides the in-flight
	// window, for a few syscalls per second at any rate.
	ackMarkEvery = 100 * time.Millisecond
)

// errMarkReadOnly means the segment file could only be opened for reading.
var errMarkReadOnly = errors.New("segment file is open read-only")

// encodeAckSlot returns the slot bytes for segment base acked through mark.
func encodeAckSlot(base, mark uint64) []byte {
	b := make([]byte, ackSlotLen)
	copy(b, ackMagic)
	b[4] = ackVersion
	binary.LittleEndian.PutUint64(b[8:], base)
	binary.LittleEndian.PutUint64(b[16:], mark)
	binary.LittleEndian.PutUint32(b[ackSlotBodySize:], crc32.Checksum(b[:ackSlotBodySize], castagnoli))
	return b
}

// decodeAckSlot returns the mark of an intact slot written for segment
// base. A slot that is torn, corrupt, of another version or copied from
// another segment is not ok.
func decodeAckSlot(b []byte, base uint64) (mark uint64, ok bool) {
	if len(b) < ackSlotLen || !bytes.Equal(b[:4], []byte(ackMagic)) || b[4] != ackVersion || b[5]|b[6]|b[7] != 0 {
		return 0, false
	}
	if crc32.Checksum(b[:ackSlotBodySize], castagnoli) != binary.LittleEndian.Uint32(b[ackSlotBodySize:]) {
		return 0, false
	}
	if binary.LittleEndian.Uint64(b[8:]) != base {
		return 0, false
	}
	return binary.LittleEndian.Uint64(b[16:]), true
}

// readSegmentHeader decodes the header of the segment file at path.
// found is false when no slot is intact or the file is shorter than the
// header.
func readSegmentHeader(path string, base uint64) (mark uint64, slot int, found bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, false, err
	}
	defer f.Close()
	h := make([]byte, segmentHeaderSize)
	if _, err := io.ReadFull(f, h); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, 0, false, nil
		}
		return 0, 0, false, err
	}
	mark, slot, found = decodeSegmentHeader(h, base)
	return mark, slot, found, nil
}

// decodeSegmentHeader returns the highest intact mark of a segment header
// and the slot holding it. found is false when no slot is intact.
func decodeSegmentHeader(h []byte, base uint64) (mark uint64, slot int, found bool) {
	for i := range ackSlots {
		off := i * ackSlotSize
		if off >= len(h) {
			break
		}
		if m, ok := decodeAckSlot(h[off:], base); ok && (!found || m > mark) {
			mark, slot, found = m, i, true
		}
	}
	return mark, slot, found
}

// appendSegmentHeader appends a new segment's header to dst: slot 0 holds
// mark 0 (nothing acked), slot 1 is empty until the first mark.
func appendSegmentHeader(dst []byte, base uint64) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, segmentHeaderSize)...)
	copy(dst[start:], encodeAckSlot(base, 0))
	return dst
}

// ackedThrough is the mark the segment's records allow: the seq before the
// first pending record, or the last seq when none is pending. It is 0 while
// the first record is pending.
func (s *segment) ackedThrough() uint64 {
	switch {
	case s.first == 0:
		return 0
	case s.first < len(s.recs):
		return s.recs[s.first].seq - 1
	}
	return s.recs[len(s.recs)-1].seq
}

// writeAckMark stores mark in the slot not holding the newest one, without
// fsync.
func (s *segment) writeAckMark(mark uint64) error {
	if s.size < segmentHeaderSize {
		return nil // no records, so nothing to mark
	}
	if err := s.openFile(); err != nil {
		return err
	}
	if s.readOnly {
		return errMarkReadOnly
	}
	if _, err := s.file.WriteAt(encodeAckSlot(s.base, mark), int64(s.ackMarkSlot)*ackSlotSize); err != nil {
		return fmt.Errorf("write ack mark: %w", err)
	}
	s.ackMark = mark
	s.ackMarkSlot = (s.ackMarkSlot + 1) % ackSlots
	return nil
}
