package message

import (
	"bytes"
	"slices"
	"time"
)

// timeKey opens the envelope's time field. It cannot occur inside a JSON
// string (a quote there is escaped), so its first occurrence is the field.
var timeKey = []byte(`,"time":"`)

// UnsyncedField is added to a payload whose time may be wrong: its reading
// was taken before the clock was synced and the time could not be repaired.
const UnsyncedField = `"time_synced":false`

// Restamp returns payload with its time replaced by t, for a reading whose
// true time became known after it was encoded. A payload without a time
// field comes back as it was.
func Restamp(payload []byte, t time.Time) []byte {
	i := bytes.Index(payload, timeKey)
	if i < 0 {
		return payload
	}
	start := i + len(timeKey)
	end := bytes.IndexByte(payload[start:], '"')
	if end < 0 {
		return payload
	}
	out := make([]byte, 0, len(payload)+8)
	out = append(out, payload[:start]...)
	out = t.UTC().AppendFormat(out, TimeLayout)
	return append(out, payload[start+end:]...)
}

// MarkUnsynced returns payload with UnsyncedField after its time field.
func MarkUnsynced(payload []byte) []byte {
	i := bytes.Index(payload, timeKey)
	if i < 0 {
		return payload
	}
	end := bytes.IndexByte(payload[i+len(timeKey):], '"')
	if end < 0 {
		return payload
	}
	at := i + len(timeKey) + end + 1
	return slices.Concat(payload[:at], []byte(","+UnsyncedField), payload[at:])
}
