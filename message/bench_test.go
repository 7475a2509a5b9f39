package message

import (
	"testing"
	"time"

	"github.com/edgepub/edgepub/sensors"
)

// BenchmarkEncode is the per-reading encoding cost that
// edgepub-live pays on top of delivery (a BME280-like reading, three
// fields).
func BenchmarkEncode(b *testing.B) {
	r := sensors.Reading{Sensor: "environment", Time: time.Date(2026, 11, 26, 11, 0, 0, 123e6, time.UTC),
		Values: sensors.Values{"temperature_c": 21.53, "humidity_pct": 40.1, "pressure_hpa": 1013.2}}
	b.ReportAllocs()
	var seq uint64
	for b.Loop() {
		seq++
		if _, err := Encode("Kai", seq, r); err != nil {
			b.Fatal(err)
		}
	}
}
