package message

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
	got, err := Encode("Kai", 42, r)
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
	got, err := Encode(`we"ird`, 1, sensors.Reading{Sensor: "s", Values: sensors.Values{"x_c": 1e-7}})
	if err != nil || !json.Valid(got) || !strings.Contains(string(got), `"x_c":0.0000001`) {
		t.Errorf("got %s, %v", got, err)
	}
	for name, v := range map[string]sensors.Values{
		"NaN":      {"x_c": math.NaN()},
		"Inf":      {"x_c": math.Inf(1)},
		"reserved": {"seq": 1},
	} {
		if _, err := Encode("Kai", 1, sensors.Reading{Sensor: "s", Values: v}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestFrameRoundTrip(t *testing.T) {
	e := Frame("Kai/sensors/bme280", []byte(`{"a":1}`))
	topic, payload, err := Unframe(e)
	if err != nil || topic != "Kai/sensors/bme280" || string(payload) != `{"a":1}` {
		t.Errorf("got %q %q %v", topic, payload, err)
	}
	for _, bad := range [][]byte{nil, {0}, {5, 'a'}, {0x80}} {
		if _, _, err := Unframe(bad); err == nil {
			t.Errorf("Unframe(%v): no error", bad)
		}
	}
}

// TestFramed checks that the outbox's frame for a reading carries the
// reading's topic and the seq the outbox assigned.
func TestFramed(t *testing.T) {
	r := sensors.Reading{Sensor: "env", Time: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC), Values: sensors.Values{"temperature_c": 20}}
	frame, err := Framed("Kai", r)(7)
	if err != nil {
		t.Fatal(err)
	}
	topic, payload, err := Unframe(frame)
	if err != nil || topic != "Kai/sensors/env" {
		t.Fatalf("Unframe = %q, %v", topic, err)
	}
	if want := `{"device":"Kai","sensor":"env","seq":7,"time":"2026-11-26T12:00:00.000Z","temperature_c":20}`; string(payload) != want {
		t.Errorf("payload %s, want %s", payload, want)
	}
	if _, err := Framed("Kai", sensors.Reading{Sensor: "env", Values: sensors.Values{"seq": 1}})(1); err == nil {
		t.Error("a field named like the envelope was framed")
	}
}
