package outbox

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"slices"
	"testing"
	"time"
)

func TestRecordRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 26, 12, 0, 0, 123456789, time.UTC)
	for _, payload := range [][]byte{nil, []byte("x"), payloadFor(7), bytes.Repeat([]byte{0xff}, 5000)} {
		b := appendRecord([]byte("prefix"), 42, at, payload)[len("prefix"):]
		rec, n, err := decodeRecord(append(b, "trailing"...))
		if err != nil || n != len(b) || rec.Seq != 42 || !rec.Time.Equal(at) || !bytes.Equal(rec.Payload, payload) {
			t.Fatalf("decode(%d-byte payload) = %+v, %d, %v", len(payload), rec, n, err)
		}
	}
	b := appendRecord(nil, 1, time.Time{}, nil)
	if rec, _, _ := decodeRecord(b); !rec.Time.IsZero() {
		t.Fatalf("zero time decoded as %v", rec.Time)
	}
}

func TestDecodeRejectsEveryFlippedBit(t *testing.T) {
	b := appendRecord(nil, 9, time.Unix(1700000000, 0), payloadFor(9))
	for i := range len(b) * 8 {
		c := bytes.Clone(b)
		c[i/8] ^= 1 << (i % 8)
		if rec, _, err := decodeRecord(c); err == nil {
			t.Fatalf("bit %d flipped: decoded %+v", i, rec)
		}
	}
	for n := range len(b) {
		if _, _, err := decodeRecord(b[:n]); err == nil {
			t.Fatalf("record cut to %d bytes decoded", n)
		}
	}
}

// FuzzDecodeRecord feeds arbitrary bytes to the decoder: it must never panic
// and never return a record whose checksum does not match its bytes.
func FuzzDecodeRecord(f *testing.F) {
	valid := appendRecord(nil, 12345, time.Unix(1764158400, 5), payloadFor(12345))
	f.Add(valid)
	f.Add(valid[:len(valid)-1])
	f.Add(append(bytes.Clone(valid), valid...))
	f.Add(appendRecord(nil, 1, time.Time{}, nil))
	f.Add([]byte{})
	f.Add(make([]byte, recordHeaderSize))
	f.Add(bytes.Repeat([]byte{0xff}, 64))
	huge := bytes.Clone(valid)
	binary.LittleEndian.PutUint32(huge[4:], MaxPayload+1)
	f.Add(huge)
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, n, err := decodeRecord(b)
		if err != nil {
			if n != 0 {
				t.Fatalf("error %v with length %d", err, n)
			}
			return
		}
		if n < recordHeaderSize || n > len(b) || n != recordHeaderSize+len(rec.Payload) {
			t.Fatalf("length %d for %d-byte payload in %d bytes", n, len(rec.Payload), len(b))
		}
		if crc32.Checksum(b[4:n], castagnoli) != binary.LittleEndian.Uint32(b) {
			t.Fatal("decoded a record whose checksum does not match")
		}
		if re := appendRecord(nil, rec.Seq, rec.Time, rec.Payload); !bytes.Equal(re, b[:n]) {
			t.Fatal("re-encoding the decoded record gives other bytes")
		}
	})
}

func TestSegmentNames(t *testing.T) {
	if got := segmentName(42); got != "00000000000000000042.seg" {
		t.Fatalf("segmentName(42) = %q", got)
	}
	for name, want := range map[string]bool{
		"00000000000000000042.seg":     true,
		"18446744073709551615.seg":     true,
		"18446744073709551616.seg":     false,
		"0000000000000000042.seg":      false,
		"0000000000000000004x.seg":     false,
		"00000000000000000042.seg.tmp": false,
	} {
		if _, ok := parseSegmentName(name); ok != want {
			t.Errorf("parseSegmentName(%q) ok = %v, want %v", name, ok, want)
		}
	}
}

// FuzzScanSegment feeds arbitrary file contents to recovery: it must never
// panic, every record it indexes must read back intact in seq order, and the
// ack mark it reports must come from the highest intact slot of this
// segment, so damage can never skip an unacknowledged reading.
func FuzzScanSegment(f *testing.F) {
	var seg []byte
	for seq := uint64(5); seq < 9; seq++ {
		seg = appendRecord(seg, seq, time.Unix(1764158400, 0), payloadFor(seq))
	}
	slot0, slot1 := encodeAckSlot(5, 0), make([]byte, ackSlotLen)
	fresh := slices.Concat(slot0, slot1, seg)
	f.Add(fresh)
	f.Add(fresh[:len(fresh)-3])
	f.Add(fresh[:ackSlotLen+3])
	f.Add(slices.Concat(slot0, encodeAckSlot(5, 6), []byte("junk"), seg))
	f.Add(slices.Concat(encodeAckSlot(5, 7), encodeAckSlot(5, 6), seg))
	f.Add(slices.Concat(encodeAckSlot(6, 7), encodeAckSlot(5, 6), seg))
	var buf []byte // reused: the fuzz function runs one input at a time
	f.Fuzz(func(t *testing.T, in []byte) {
		b := segmentFile(in)
		s := &segment{base: 5}
		d, used, err := scanRecords(bytes.NewReader(b), s, 0, 100, buf)
		buf = used
		if err != nil {
			t.Fatal(err)
		}
		var prev uint64
		covered := int64(min(len(b), segmentHeaderSize))
		for _, e := range s.recs {
			rec, n, err := decodeRecord(b[e.off:])
			if err != nil || rec.Seq != e.seq || e.seq <= prev || e.seq < 5 || e.seq >= 100 || int(e.size) != len(rec.Payload) || e.off < segmentHeaderSize {
				t.Fatalf("indexed entry %+v does not read back: %+v, %v", e, rec, err)
			}
			prev = e.seq
			covered += int64(n)
		}
		if len(b) < segmentHeaderSize {
			covered = 0
		}
		if covered+d.skippedBytes+d.tornBytes != int64(len(b)) || s.size != int64(len(b)) {
			t.Fatalf("header and records %d + skipped %d + torn %d != file %d", covered, d.skippedBytes, d.tornBytes, len(b))
		}
		var m [ackSlots]uint64
		var ok [ackSlots]bool
		if len(b) >= segmentHeaderSize {
			for i := range ackSlots {
				m[i], ok[i] = decodeAckSlot(b[i*ackSlotSize:], 5)
			}
		}
		want := uint64(0)
		for i := range ackSlots {
			if ok[i] {
				want = max(want, m[i])
			}
		}
		if s.ackMark != want {
			t.Fatalf("mark %d, want %d from the intact slots %v %v", s.ackMark, want, m, ok)
		}
		if lost := len(s.recs) > 0 && !slices.Contains(ok[:], true); d.marksLost != lost {
			t.Fatalf("marksLost = %v with %d records and intact slots %v", d.marksLost, len(s.recs), ok)
		}
	})
}

// segmentFile expands a compact fuzz input into a segment file: the first
// two ackSlotLen-byte pieces go into the header's two slots (the rest of each
// sector stays zero, as the outbox leaves it) and the remainder follows as
// records. Shorter inputs stay as they are, as a file torn in its header.
// This keeps inputs small, so the fuzzer can minimise what it finds.
func segmentFile(in []byte) []byte {
	if len(in) < ackSlots*ackSlotLen {
		return in
	}
	b := make([]byte, segmentHeaderSize, segmentHeaderSize+len(in))
	for i := range ackSlots {
		copy(b[i*ackSlotSize:], in[i*ackSlotLen:(i+1)*ackSlotLen])
	}
	return append(b, in[ackSlots*ackSlotLen:]...)
}
