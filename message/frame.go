package message

import (
	"encoding/binary"
	"errors"

	"github.com/edgepub/edgepub/sensors"
)

// A frame is what the outbox stores for one message: its topic and its
// payload. The topic is stored rather than derived so that a message goes
// out exactly as it was accepted, whatever changes before it is sent.

// Frame frames topic and payload for the outbox.
func Frame(topic string, payload []byte) []byte {
	buf := make([]byte, 0, binary.MaxVarintLen16+len(topic)+len(payload))
	buf = binary.AppendUvarint(buf, uint64(len(topic)))
	buf = append(buf, topic...)
	return append(buf, payload...)
}

// errNotFramed means an outbox record that passed its checksum does not
// frame a message: written by something else, never by Frame.
var errNotFramed = errors.New("outbox record is not a framed message")

// Unframe splits a frame.
func Unframe(b []byte) (topic string, payload []byte, err error) {
	n, size := binary.Uvarint(b)
	if size <= 0 || n > uint64(len(b)-size) || n == 0 {
		return "", nil, errNotFramed
	}
	return string(b[size : size+int(n)]), b[size+int(n):], nil
}

// Framed returns what the outbox calls, once it has numbered the reading,
// for the reading's frame: topic and payload with that seq.
func Framed(device string, r sensors.Reading) func(seq uint64) ([]byte, error) {
	return func(seq uint64) ([]byte, error) {
		payload, err := Encode(device, seq, r)
		if err != nil {
			return nil, err
		}
		return Frame(Topic(device, r.Sensor), payload), nil
	}
}
