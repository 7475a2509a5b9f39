package publisher

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/edgepub/edgepub/sensors"
)

func TestEncodeReading(t *testing.T) {
	r := sensors.Reading{
		Sensor: "bme280",
		Time:   time.Date(2026, 11, 26, 12, 0, 0, 123456789, time.FixedZone("CET", 3600)),
		Values: sensors.Values{"temperature_c": 21.53, "humidity_pct": 40.1, "pressure_hpa": 1013.2},
	}
	got, err := EncodeReading("Kai", 42, r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"device":"Kai","sensor":"bme280","seq":42,"time":"2026-11-26T11:00:00.123Z","humidity_pct":40.1,"pressure_hpa":1013.2,"temperature_c":21.53}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	var m map[string]any
	if err := json.Unmarshal(got, &m); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
}

func TestEncodeReadingEscapesAndRejects(t *testing.T) {
	got, err := EncodeReading(`we"ird`, 1, sensors.Reading{Sensor: "s", Values: sensors.Values{"x_c": 1e-7}})
	if err != nil || !json.Valid(got) || !strings.Contains(string(got), `"x_c":0.0000001`) {
		t.Errorf("got %s, %v", got, err)
	}
	for name, v := range map[string]sensors.Values{
		"NaN":      {"x_c": math.NaN()},
		"Inf":      {"x_c": math.Inf(1)},
		"reserved": {"seq": 1},
	} {
		if _, err := EncodeReading("Kai", 1, sensors.Reading{Sensor: "s", Values: v}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestEntryRoundTrip(t *testing.T) {
	e := MarshalEntry("Kai/sensors/bme280", []byte(`{"a":1}`))
	topic, payload, err := UnmarshalEntry(e)
	if err != nil || topic != "Kai/sensors/bme280" || string(payload) != `{"a":1}` {
		t.Errorf("got %q %q %v", topic, payload, err)
	}
	for _, bad := range [][]byte{nil, {0}, {5, 'a'}, {0x80}} {
		if _, _, err := UnmarshalEntry(bad); err == nil {
			t.Errorf("UnmarshalEntry(%v): no error", bad)
		}
	}
}
