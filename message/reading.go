package message

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/edgepub/edgepub/sensors"
)

// reservedFields are the envelope's own keys; a sensor field may not use them.
var reservedFields = map[string]bool{"device": true, "sensor": true, "seq": true, "time": true, "time_synced": true}

// Encode returns the message for one reading: one flat JSON object
// that describes itself, e.g.
//
//	{"device":"Kai","sensor":"bme280","seq":42,"time":"2026-11-26T11:00:00.123Z","humidity_pct":40.1,"pressure_hpa":1013.2,"temperature_c":21.53}
//
// Fields follow the envelope in name order, so equal readings encode
// equally. time is when the sensor was read, in UTC with milliseconds.
func Encode(device string, seq uint64, r sensors.Reading) ([]byte, error) {
	return encode(device, &seq, r)
}

// EncodeUnsequenced is Encode without the seq field: the message a reading
// would become, for `sensors read`, which reads but queues nothing.
func EncodeUnsequenced(device string, r sensors.Reading) ([]byte, error) {
	return encode(device, nil, r)
}

func encode(device string, seq *uint64, r sensors.Reading) ([]byte, error) {
	buf := make([]byte, 0, 96+24*len(r.Values))
	buf = append(buf, `{"device":`...)
	buf = appendString(buf, device)
	buf = append(buf, `,"sensor":`...)
	buf = appendString(buf, r.Sensor)
	if seq != nil {
		buf = append(buf, `,"seq":`...)
		buf = strconv.AppendUint(buf, *seq, 10)
	}
	buf = append(buf, `,"time":"`...)
	buf = r.Time.UTC().AppendFormat(buf, TimeLayout)
	buf = append(buf, '"')
	keys := make([]string, 0, len(r.Values))
	for k := range r.Values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := r.Values[k]
		if reservedFields[k] {
			return nil, fmt.Errorf("sensor %s: field %q clashes with the message envelope: rename it", r.Sensor, k)
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("sensor %s: field %s is %v, which JSON cannot carry", r.Sensor, k, v)
		}
		buf = append(buf, ',')
		buf = appendString(buf, k)
		buf = append(buf, ':')
		buf = strconv.AppendFloat(buf, v, 'f', -1, 64)
	}
	return append(buf, '}'), nil
}

func appendString(buf []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return append(buf, b...)
}

// Topic is where a sensor's readings go: under the device's own tree,
// so the tutorial's ACL "pattern readwrite %u/#" admits it.
func Topic(device, sensor string) string { return device + "/sensors/" + sensor }

// TimeLayout is the payload's time format: RFC 3339 in UTC with milliseconds.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"
