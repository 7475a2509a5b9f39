package outbox

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"time"
)

// Record is one reading held by the outbox.
type Record struct {
	// Seq is the per-device sequence number the outbox assigned; the payload
	// embeds it.
	Seq uint64
	// Time is when the reading was taken.
	Time time.Time
	// Payload is the encoded reading as it goes to the broker.
	Payload []byte
}

const (
	// recordHeaderSize is crc(4) + payload length(4) + seq(8) + time(8).
	recordHeaderSize = 24
	// MaxPayload bounds one record's payload. A reading is a few hundred
	// bytes; the bound lets recovery reject a damaged length field quickly.
	MaxPayload = 1 << 20
)

// castagnoli is the CRC-32C table; it is computed once and only read.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var (
	errShortRecord = errors.New("record is cut short")
	errBadLength   = errors.New("record length is out of range")
	errBadChecksum = errors.New("record checksum does not match")
)

// encodedSize is the number of bytes a record with this payload takes on disk.
func encodedSize(payloadLen int) int { return recordHeaderSize + payloadLen }

// appendRecord appends the on-disk form of one record to dst.
func appendRecord(dst []byte, seq uint64, t time.Time, payload []byte) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, recordHeaderSize)...)
	h := dst[start:]
	binary.LittleEndian.PutUint32(h[4:], uint32(len(payload)))
	binary.LittleEndian.PutUint64(h[8:], seq)
	binary.LittleEndian.PutUint64(h[16:], uint64(timeToNanos(t)))
	dst = append(dst, payload...)
	binary.LittleEndian.PutUint32(dst[start:], crc32.Checksum(dst[start+4:], castagnoli))
	return dst
}

// decodeRecord decodes the record at the start of b and returns it with the
// number of bytes it occupies. The payload aliases b. It never returns a
// record whose checksum does not match.
func decodeRecord(b []byte) (Record, int, error) {
	if len(b) < recordHeaderSize {
		return Record{}, 0, errShortRecord
	}
	n := binary.LittleEndian.Uint32(b[4:])
	if n > MaxPayload {
		return Record{}, 0, errBadLength
	}
	size := recordHeaderSize + int(n)
	if len(b) < size {
		return Record{}, 0, errShortRecord
	}
	if crc32.Checksum(b[4:size], castagnoli) != binary.LittleEndian.Uint32(b) {
		return Record{}, 0, errBadChecksum
	}
	return Record{
		Seq:     binary.LittleEndian.Uint64(b[8:]),
		Time:    nanosToTime(int64(binary.LittleEndian.Uint64(b[16:]))),
		Payload: b[recordHeaderSize:size:size],
	}, size, nil
}

// peekHeader reads seq and payload length without checking the checksum, so
// recovery can reject implausible positions before paying for a CRC.
func peekHeader(b []byte) (seq uint64, payloadLen int, ok bool) {
	if len(b) < recordHeaderSize {
		return 0, 0, false
	}
	n := binary.LittleEndian.Uint32(b[4:])
	if n > MaxPayload {
		return 0, 0, false
	}
	return binary.LittleEndian.Uint64(b[8:]), int(n), true
}

// timeToNanos stores the zero time as 0 so it survives a round trip.
func timeToNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func nanosToTime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}
