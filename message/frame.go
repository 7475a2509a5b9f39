package message

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/edgepub/edgepub/sensors"
)

// A frame is what the outbox stores for one message: its topic and its
// payload, and when the reading was taken in terms that survive a wrong
// wall clock. The topic is stored rather than derived so that a message
// goes out exactly as it was accepted, whatever changes before it is sent.
//
// Layout: a plain frame is uvarint(len(topic)) topic payload. A frame with
// a Taken starts with the byte 0 (a topic is never empty, so a plain frame
// never does), the version 1, the 16-byte boot id, uvarint(nanoseconds
// since boot), a flags byte (bit 0: clock synced), then the plain frame.

// Taken is when a reading was taken: the boot it was taken in and the time
// since that boot (CLOCK_BOOTTIME), which are right even when the wall
// clock is not, and whether the wall clock was synced then.
type Taken struct {
	BootID    [16]byte
	SinceBoot time.Duration
	Synced    bool
}

// Framed is a frame taken apart.
type Framed struct {
	Topic   string
	Payload []byte
	// Taken is valid when HasTaken: frames written before edgepub tracked
	// the clock have none.
	Taken    Taken
	HasTaken bool
}

const (
	takenMarker  = 0
	takenVersion = 1
	flagSynced   = 1
)

// Frame frames topic and payload for the outbox, with taken if not nil.
func Frame(topic string, payload []byte, taken *Taken) []byte {
	buf := make([]byte, 0, 2+16+binary.MaxVarintLen64+1+binary.MaxVarintLen16+len(topic)+len(payload))
	if taken != nil {
		buf = append(buf, takenMarker, takenVersion)
		buf = append(buf, taken.BootID[:]...)
		buf = binary.AppendUvarint(buf, uint64(taken.SinceBoot))
		flags := byte(0)
		if taken.Synced {
			flags |= flagSynced
		}
		buf = append(buf, flags)
	}
	buf = binary.AppendUvarint(buf, uint64(len(topic)))
	buf = append(buf, topic...)
	return append(buf, payload...)
}

// errNotFramed means an outbox record that passed its checksum does not
// frame a message: written by something else, never by Frame.
var errNotFramed = errors.New("outbox record is not a framed message")

// Unframe takes a frame apart.
func Unframe(b []byte) (Framed, error) {
	var f Framed
	if len(b) > 0 && b[0] == takenMarker {
		if len(b) < 2+16 || b[1] != takenVersion {
			return f, errNotFramed
		}
		copy(f.Taken.BootID[:], b[2:18])
		ns, size := binary.Uvarint(b[18:])
		if size <= 0 || ns > 1<<63-1 || len(b) < 18+size+1 {
			return f, errNotFramed
		}
		f.Taken.SinceBoot = time.Duration(ns)
		f.Taken.Synced = b[18+size]&flagSynced != 0
		f.HasTaken = true
		b = b[18+size+1:]
	}
	n, size := binary.Uvarint(b)
	if size <= 0 || n > uint64(len(b)-size) || n == 0 {
		return Framed{}, errNotFramed
	}
	f.Topic, f.Payload = string(b[size:size+int(n)]), b[size+int(n):]
	return f, nil
}

// FrameFunc returns what the outbox calls, once it has numbered the reading,
// for the reading's frame: topic and payload with that seq, and taken.
func FrameFunc(device string, r sensors.Reading, taken *Taken) func(seq uint64) ([]byte, error) {
	return func(seq uint64) ([]byte, error) {
		payload, err := Encode(device, seq, r)
		if err != nil {
			return nil, err
		}
		return Frame(Topic(device, r.Sensor), payload, taken), nil
	}
}
