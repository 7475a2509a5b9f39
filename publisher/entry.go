package publisher

import (
	"encoding/binary"
	"errors"
)

// An entry is what the outbox stores for one message: its topic and its
// payload. The topic is stored rather than derived so that a message goes
// out exactly as it was accepted, whatever changes before it is sent.

// MarshalEntry frames topic and payload for the outbox.
func MarshalEntry(topic string, payload []byte) []byte {
	buf := make([]byte, 0, binary.MaxVarintLen16+len(topic)+len(payload))
	buf = binary.AppendUvarint(buf, uint64(len(topic)))
	buf = append(buf, topic...)
	return append(buf, payload...)
}

// errBadEntry means an outbox record that passed its checksum does not
// frame a message: written by something else, never by MarshalEntry.
var errBadEntry = errors.New("outbox record is not a message entry")

// UnmarshalEntry splits a framed entry.
func UnmarshalEntry(b []byte) (topic string, payload []byte, err error) {
	n, size := binary.Uvarint(b)
	if size <= 0 || n > uint64(len(b)-size) || n == 0 {
		return "", nil, errBadEntry
	}
	return string(b[size : size+int(n)]), b[size+int(n):], nil
}
