package catalog

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/edgepub/edgepub/config"
)

func TestCheckRefusesWhatTheChipCannotServe(t *testing.T) {
	sec := func(s float64) config.Duration { return config.Duration(s * float64(time.Second)) }
	two := sec(2) // the default timeout
	for _, tc := range []struct {
		spec      config.Sensor
		key, want string
	}{
		// SCD4x datasheet: a new value every 5 s.
		{config.Sensor{Type: "scd4x", Interval: sec(10), Timeout: min(two, sec(10)/2), Samples: 3}, "sensors[0].samples", "3 samples of type scd4x take 3 × 5s = 15s, more than the interval 10s: make the interval at least 15s or samples at most 2"},
		{config.Sensor{Type: "scd4x", Interval: sec(2), Timeout: min(two, sec(2)/2), Samples: 1}, "sensors[0].interval", "gives a new value every 5s, so an interval of 2s reads old values"},
		// SGP30 datasheet: measure_iaq every 1 s.
		{config.Sensor{Type: "sgp30", Interval: sec(10), Timeout: min(two, sec(10)/2), Samples: 1}, "sensors[0].interval", "must be read every 1s, not every 10s"},
		{config.Sensor{Type: "sgp30", Interval: sec(1), Timeout: min(two, sec(1)/2), Samples: 2}, "sensors[0].samples", "2 samples of type sgp30 take 2 × 1s = 2s"},
		// AM2320 datasheet: 2 s between reads.
		{config.Sensor{Type: "am2320", Interval: sec(1), Timeout: min(two, sec(1)/2), Samples: 1}, "sensors[0].interval", "every 2s"},
		// HDC302x at 1 Hz: each result once.
		{config.Sensor{Type: "hdc302x", Interval: sec(4), Timeout: min(two, sec(4)/2), Samples: 5}, "sensors[0].samples", "samples at most 4"},
		// The first read opens an HDC302x, which waits one sample period.
		{config.Sensor{Type: "hdc302x", Interval: sec(2), Timeout: sec(0.5), Samples: 1}, "sensors[0].timeout", "a read of type hdc302x takes up to 1.01s, longer than the timeout 500ms: make the timeout at least 1.01s"},
		{config.Sensor{Name: "hall", Type: "hdc302x", Interval: sec(1), Timeout: sec(0.5), Samples: 1}, "sensors[0].interval", `sensor "hall": a read of type hdc302x takes up to 1.01s (opening the chip included), so an interval of 1s leaves no room for its timeout: make the interval at least 2s`},
		{config.Sensor{Type: "bme290", Interval: sec(10), Timeout: min(two, sec(10)/2), Samples: 1}, "sensors[0].type", `unknown type "bme290": did you mean bme280?`},
		{config.Sensor{Type: "bme280", Interval: sec(10), Timeout: min(two, sec(10)/2), Samples: 1, Driver: config.DriverOpts{ShuntOhms: 0.1}}, "sensors[0].driver.shunt_ohms", "type bme280 does not use shunt_ohms (it takes no driver options)"},
		{config.Sensor{Type: "ina219", Interval: sec(10), Timeout: min(two, sec(10)/2), Samples: 1, Driver: config.DriverOpts{Channels: []config.ADCChannel{{Input: 1}}}}, "sensors[0].driver.channels", "it takes shunt_ohms, max_current_a"},
		{config.Sensor{Type: "ina219", Interval: sec(10), Timeout: min(two, sec(10)/2), Samples: 1, Driver: config.DriverOpts{ShuntOhms: 0.1, MaxCurrentA: 10}}, "sensors[0].driver", "more than the ±320 mV"},
		{config.Sensor{Type: "ads1115", Interval: sec(10), Timeout: min(two, sec(10)/2), Samples: 1, Driver: config.DriverOpts{Channels: []config.ADCChannel{{Input: 4}}}}, "sensors[0].driver", "input 4: choose 0..3"},
	} {
		err := Check([]config.Sensor{tc.spec})
		var fe *config.FieldError
		if !errors.As(err, &fe) || fe.Key != tc.key || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Check = %v; want %s: …%s…", tc.spec.Type, err, tc.key, tc.want)
		}
	}
	ok := []config.Sensor{
		{Type: "scd4x", Interval: sec(10), Timeout: two, Samples: 2},
		{Type: "sgp30", Interval: sec(1), Timeout: sec(0.5), Samples: 1},
		{Type: "am2320", Interval: sec(6), Timeout: two, Samples: 3},
		{Type: "bme280", Interval: sec(1), Timeout: sec(0.5), Samples: 3},
		{Type: "ina219", Interval: sec(10), Timeout: two, Samples: 1, Driver: config.DriverOpts{ShuntOhms: 0.1, MaxCurrentA: 3.2}},
	}
	if err := Check(ok); err != nil {
		t.Errorf("Check refused a configuration the chips can serve: %v", err)
	}
	// Every problem is reported, not only the first.
	err := Check([]config.Sensor{{Type: "nope", Samples: 1}, {Type: "sgp30", Interval: sec(2), Timeout: two / 2, Samples: 1}})
	if err == nil || !strings.Contains(err.Error(), "sensors[0].type") || !strings.Contains(err.Error(), "sensors[1].interval") {
		t.Errorf("Check of two bad sensors = %v", err)
	}
}

// Every type read at the shortest interval the check allows gets a default
// timeout that its longest read fits in, and that the check accepts.
func TestEveryTypeGetsADefaultTimeoutItsReadFits(t *testing.T) {
	for _, ti := range Types() {
		interval := max(10*time.Millisecond, ti.Spacing, ti.Cadence, ti.ReadTime+time.Millisecond)
		if ti.Cadence > 0 && ti.ReadTime >= ti.Cadence {
			t.Errorf("%s: a read takes up to %v, no shorter than the cadence %v it must be read at", ti.Name, ti.ReadTime, ti.Cadence)
			continue
		}
		if ti.Cadence > 0 {
			interval = ti.Cadence
		}
		spec := config.Sensor{Name: "s", Type: ti.Name, Interval: config.Duration(interval), Samples: 1,
			Timeout: config.Duration(config.DefaultTimeout(interval, ReadTime(ti.Name)))}
		if timeout := spec.Timeout.Std(); timeout < ti.ReadTime || timeout >= interval {
			t.Errorf("%s at interval %v: default timeout %v, want at least the read time %v and less than the interval", ti.Name, interval, timeout, ti.ReadTime)
		}
		if err := errors.Join(spec.CheckTimeout(ti.Name, ti.ReadTime), spec.CheckTiming(ti.Name, ti.Spacing, ti.Cadence)); err != nil {
			t.Errorf("%s at interval %v with the default timeout: %v", ti.Name, interval, err)
		}
	}
}

// A configuration that leaves the timeout out gets one that fits the
// type's read, through the parser's hook; the HDC302x's first read waits
// one 1 s sample period (datasheet section 7.4.1, 1 Hz auto mode), 1.01 s
// with the bus transfers.
func TestParserGivesTheHDC302xATimeoutItsReadFits(t *testing.T) {
	parser := config.Parser{CheckSensors: Check, ReadTime: ReadTime}
	cfg, err := parser.Parse(strings.NewReader("sensors:\n  - {name: hall, type: hdc302x, interval: 2s}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Sensors[0].Timeout.Std(); got < 1010*time.Millisecond || got >= 2*time.Second {
		t.Errorf("hdc302x at 2s: default timeout %v, want 1.01s or more and less than 2s", got)
	}
	_, err = parser.Parse(strings.NewReader("sensors:\n  - {name: hall, type: hdc302x, interval: 1s}\n"))
	want := `line 2: sensors[0].interval: interval not longer than a read of this type takes: sensor "hall": a read of type hdc302x takes up to 1.01s (opening the chip included), so an interval of 1s leaves no room for its timeout: make the interval at least 2s`
	if err == nil || err.Error() != want {
		t.Errorf("hdc302x at 1s: got\n%v\nwant\n%s", err, want)
	}
	if err != nil && strings.Contains(err.Error(), "\n") {
		t.Errorf("the error is more than one line:\n%v", err)
	}
}
