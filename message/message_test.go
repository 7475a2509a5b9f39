package message

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/edgepub/edgepub/sensors"
)

func TestEncode(t *testing.T) {
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

	got, err = EncodeUnsequenced("Kai", r)
	if err != nil {
		t.Fatal(err)
	}
	want = `{"device":"Kai","sensor":"bme280","time":"2026-11-26T11:00:00.123Z","humidity_pct":40.1,"pressure_hpa":1013.2,"temperature_c":21.53}`
	if string(got) != want {
		t.Errorf("unsequenced:\ngot  %s\nwant %s", got, want)
	}
}

func TestEncodeEscapesAndRejects(t *testing.T) {
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
	taken := Taken{BootID: [16]byte{0x23, 0xee, 15: 0x8f}, SinceBoot: 3*time.Hour + 7*time.Millisecond, Synced: true}
	for _, tk := range []*Taken{nil, &taken, {SinceBoot: 1}} {
		f, err := Unframe(Frame("Kai/sensors/bme280", []byte(`{"a":1}`), tk))
		if err != nil || f.Topic != "Kai/sensors/bme280" || string(f.Payload) != `{"a":1}` {
			t.Errorf("taken %v: got %+v, %v", tk, f, err)
		}
		if f.HasTaken != (tk != nil) || (tk != nil && f.Taken != *tk) {
			t.Errorf("taken %v: got %+v", tk, f)
		}
	}
	for _, bad := range [][]byte{nil, {0}, {5, 'a'}, {0x80}, {0, 2}, {0, 1, 1, 2}, Frame("t", nil, &taken)[:19]} {
		if _, err := Unframe(bad); err == nil {
			t.Errorf("Unframe(%v): no error", bad)
		}
	}
}

// A frame written before frames carried Taken (the upgrade path: the
// outbox keeps them) still unframes.
func TestUnframeBeforeTaken(t *testing.T) {
	old := append([]byte{18}, `Kai/sensors/bme280{"a":1}`...)
	f, err := Unframe(old)
	if err != nil || f.Topic != "Kai/sensors/bme280" || string(f.Payload) != `{"a":1}` || f.HasTaken {
		t.Errorf("got %+v, %v", f, err)
	}
}

// TestFrameFunc checks that the outbox's frame for a reading carries the
// reading's topic and the seq the outbox assigned.
func TestFrameFunc(t *testing.T) {
	r := sensors.Reading{Sensor: "env", Time: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC), Values: sensors.Values{"temperature_c": 20}}
	frame, err := FrameFunc("Kai", r, nil)(7)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Unframe(frame)
	if err != nil || f.Topic != "Kai/sensors/env" {
		t.Fatalf("Unframe = %+v, %v", f, err)
	}
	if want := `{"device":"Kai","sensor":"env","seq":7,"time":"2026-11-26T12:00:00.000Z","temperature_c":20}`; string(f.Payload) != want {
		t.Errorf("payload %s, want %s", f.Payload, want)
	}
	for _, field := range []string{"seq", "time_synced"} {
		if _, err := FrameFunc("Kai", sensors.Reading{Sensor: "env", Values: sensors.Values{field: 1}}, nil)(1); err == nil {
			t.Errorf("a field named %q like the envelope was framed", field)
		}
	}
}

func TestRestampAndMarkUnsynced(t *testing.T) {
	// A device name holding the time key, escaped as JSON escapes it, must
	// not be mistaken for the field.
	payload := []byte(`{"device":"a\",\"time\":\"x","sensor":"env","seq":7,"time":"1970-01-01T00:00:12.345Z","temperature_c":20}`)
	at := time.Date(2026, 12, 2, 20, 30, 1, 987_654_321, time.FixedZone("CET", 3600))
	want := `{"device":"a\",\"time\":\"x","sensor":"env","seq":7,"time":"2026-12-02T19:30:01.987Z","temperature_c":20}`
	if got := Restamp(payload, at); string(got) != want {
		t.Errorf("Restamp:\n got %s\nwant %s", got, want)
	}
	want = `{"device":"a\",\"time\":\"x","sensor":"env","seq":7,"time":"1970-01-01T00:00:12.345Z","time_synced":false,"temperature_c":20}`
	if got := MarkUnsynced(payload); string(got) != want {
		t.Errorf("MarkUnsynced:\n got %s\nwant %s", got, want)
	}
	var v map[string]any
	if err := json.Unmarshal(MarkUnsynced(payload), &v); err != nil || v["time_synced"] != false {
		t.Errorf("marked payload: %v, %v", v, err)
	}
	for _, bad := range []string{`{"a":1}`, `{"x":1,"time":"unterminated`} {
		if got := Restamp([]byte(bad), at); string(got) != bad {
			t.Errorf("Restamp(%s) = %s", bad, got)
		}
		if got := MarkUnsynced([]byte(bad)); string(got) != bad {
			t.Errorf("MarkUnsynced(%s) = %s", bad, got)
		}
	}
}
