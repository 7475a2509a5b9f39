package catalog

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/edgepub/edgepub/config"
	"github.com/edgepub/edgepub/sensors"
	"github.com/edgepub/edgepub/sensors/internal/sensirion"
	"periph.io/x/conn/v3/physic"
)

// These tests run the Runner with real drivers against bus models that
// keep the datasheets' timing rules, on synctest's simulated clock: what
// the chip would do when read too early or too often is what the model
// does, and the model counts every breach of its rules.

// chipModel is the common part of the bus models: one chip at one address
// that NACKs what the real one would not acknowledge.
type chipModel struct {
	mu       sync.Mutex
	addr     uint16
	breaches []string
}

var errModelNACK = errors.New("i2c: remote I/O error (NACK)")

func (m *chipModel) String() string                  { return "model" }
func (m *chipModel) SetSpeed(physic.Frequency) error { return nil }

// breach records a rule the driver broke, and NACKs.
func (m *chipModel) breach(rule string) error {
	m.breaches = append(m.breaches, time.Now().Format("15:04:05.000")+" "+rule)
	return errModelNACK
}

func (m *chipModel) broken() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.breaches...)
}

// scd4xModel follows the SCD4x datasheet: after stop_periodic_measurement
// (0x3f86) it takes no command for 500 ms; get_serial_number (0x3682) is
// refused in periodic mode; after start_periodic_measurement (0x21b1) a
// measurement is ready every 5 s, the first 5 s after the start;
// get_data_ready_status (0xe4b8) says whether an unread one waits;
// read_measurement (0xec05) with none waiting is NACKed. Replies can be
// read 1 ms after their command.
type scd4xModel struct {
	chipModel
	periodic  bool
	started   time.Time
	read      int // measurements read since the start
	quietTill time.Time
	reply     []uint16
	replyAt   time.Time
}

func (m *scd4xModel) Tx(addr uint16, w, r []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	if addr != m.addr {
		return errModelNACK
	}
	if now.Before(m.quietTill) {
		return m.breach("command within 500 ms of stop_periodic_measurement")
	}
	if len(w) == 0 {
		if m.reply == nil || now.Before(m.replyAt) {
			return m.breach("read with no reply ready")
		}
		copy(r, sensirion.EncodeWords(m.reply...))
		m.reply = nil
		return nil
	}
	m.reply, m.replyAt = nil, now.Add(time.Millisecond)
	made := 0
	if m.periodic {
		made = int(now.Sub(m.started) / (5 * time.Second))
	}
	switch uint16(w[0])<<8 | uint16(w[1]) {
	case 0x3f86:
		m.periodic, m.quietTill = false, now.Add(500*time.Millisecond)
	case 0x3682:
		if m.periodic {
			return m.breach("get_serial_number in periodic mode")
		}
		m.reply = []uint16{0xf896, 0x9f07, 0x3bb4}
	case 0x21b1:
		m.periodic, m.started, m.read = true, now, 0
	case 0xe4b8:
		m.reply = []uint16{0x8000}
		if made > m.read {
			m.reply = []uint16{0x8006}
		}
	case 0xec05:
		if made <= m.read {
			return m.breach("read_measurement with no new measurement")
		}
		m.read = made
		m.reply = []uint16{500, 0x6667, 0x5eb9} // 500 ppm, 25 °C, 37 %RH
	default:
		return m.breach("unknown command")
	}
	return nil
}

// hdc302xModel follows the HDC302x datasheet: the auto measurement
// command 0x2130 measures once a second, the first result one second after
// it; 0x3093 stops; a readout (0xe000) before the first result is NACKed,
// and "temperature and humidity data is only available to be read by the
// controller once. Any following attempts to read temperature and humidity
// results produces the minimum temperature and humidity values" (section
// 7.4.1), raw 0x0000 and 0x0000.
type hdc302xModel struct {
	chipModel
	auto    bool
	started time.Time
	read    int
	reply   []uint16
}

func (m *hdc302xModel) Tx(addr uint16, w, r []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if addr != m.addr {
		return errModelNACK
	}
	made := int(time.Since(m.started) / time.Second)
	switch {
	case len(w) == 2 && w[0] == 0x30 && w[1] == 0x93:
		m.auto = false
	case len(w) == 2 && w[0] == 0x37 && w[1] == 0x81 && len(r) == 3:
		copy(r, sensirion.EncodeWords(0x3000)) // Texas Instruments
	case len(w) == 2 && w[0] == 0x21 && w[1] == 0x30:
		m.auto, m.started, m.read = true, time.Now(), 0
	case len(w) == 2 && w[0] == 0xe0 && w[1] == 0x00 && len(r) == 6:
		switch {
		case !m.auto || made == 0:
			return m.breach("readout before the first result")
		case made <= m.read:
			m.breaches = append(m.breaches, time.Now().Format("15:04:05.000")+" result read twice")
			copy(r, sensirion.EncodeWords(0, 0))
		default:
			m.read = made
			copy(r, sensirion.EncodeWords(0x6666, 0x9999)) // 25 °C, 60 %RH
		}
	default:
		return m.breach("unknown transfer")
	}
	return nil
}

// sgp30Model follows the SGP30 datasheet: after Init_air_quality (0x2003)
// "a Measure_air_quality command has to be sent in regular intervals of 1s"
// and "for the first 15s ... returns fixed values of 400 ppm CO2eq and 0 ppb
// TVOC". It records every measure command's time; failAt makes the one
// measurement at that second fail, as a glitch on the bus would.
type sgp30Model struct {
	chipModel
	started  time.Time
	measures []time.Time
	failAt   time.Duration
	failed   bool
	reply    []uint16
}

func (m *sgp30Model) Tx(addr uint16, w, r []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if addr != m.addr {
		return errModelNACK
	}
	if len(w) == 0 {
		if m.reply == nil {
			return m.breach("read with no reply")
		}
		copy(r, sensirion.EncodeWords(m.reply...))
		m.reply = nil
		return nil
	}
	switch uint16(w[0])<<8 | uint16(w[1]) {
	case 0x202f:
		m.reply = []uint16{0x0022}
	case 0x2003:
		m.started = time.Now()
	case 0x2008:
		since := time.Since(m.started)
		if !m.failed && m.failAt > 0 && since >= m.failAt {
			m.failed = true
			return errModelNACK
		}
		m.measures = append(m.measures, time.Now())
		m.reply = []uint16{400, 0}
		if since >= 15*time.Second {
			m.reply = []uint16{452, 13}
		}
	default:
		return m.breach("unknown command")
	}
	return nil
}

// am2320Model follows the AM2320 datasheet (sections 8.2.4, 8.3.3): it
// ignores the write that wakes it, takes the read-registers command, and
// wants at least 2 s between two reads. Its reply is the datasheet's
// example: 82.5 %RH, 27.7 °C.
type am2320Model struct {
	chipModel
	lastRead time.Time
	reply    bool
}

func (m *am2320Model) Tx(addr uint16, w, r []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case addr != m.addr:
		return errModelNACK
	case len(w) == 1 && w[0] == 0x00:
		return errModelNACK // asleep: the address wakes it, unacknowledged
	case len(w) == 3 && w[0] == 0x03:
		if !m.lastRead.IsZero() && time.Since(m.lastRead) < 2*time.Second {
			m.breaches = append(m.breaches, time.Now().Format("15:04:05.000")+" reads less than 2 s apart")
		}
		m.lastRead, m.reply = time.Now(), true
	case len(w) == 0 && len(r) == 8 && m.reply:
		copy(r, []byte{0x03, 0x04, 0x03, 0x39, 0x01, 0x15, 0xE1, 0xFE})
		m.reply = false
	default:
		return m.breach("unexpected transfer")
	}
	return nil
}

// runFor runs one configured sensor as the daemon does (opened lazily,
// through the catalog) for d of simulated time, and returns what it
// emitted and its status.
func runFor(t *testing.T, spec config.Sensor, bus Buses, d time.Duration) ([]sensors.Reading, sensors.SensorStatus) {
	t.Helper()
	if err := Check([]config.Sensor{spec}); err != nil {
		t.Fatalf("the configuration is not valid: %v", err)
	}
	src := sensors.Source{
		Name:   spec.Name,
		Sensor: sensors.Lazy(func(ctx context.Context) (sensors.Sensor, error) { return Open(ctx, spec, bus) }),
		// As the daemon configures it.
		Interval: spec.Interval.Std(), Timeout: spec.Timeout.Std(), Samples: spec.Samples,
	}
	var (
		mu  sync.Mutex
		got []sensors.Reading
	)
	r := sensors.NewRunner(sensors.RunnerOpts{})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		r.Run(ctx, []sensors.Source{src}, func(x sensors.Reading) { mu.Lock(); got = append(got, x); mu.Unlock() })
		close(done)
	}()
	time.Sleep(d)
	cancel()
	<-done
	return got, r.Status()[0]
}

func sensorSpec(typ string, interval, timeout time.Duration, samples int) config.Sensor {
	return config.Sensor{Name: "s", Type: typ, Bus: bus1, Interval: config.Duration(interval), Timeout: config.Duration(timeout), Samples: samples}
}

// The README's SCD4x example (interval 10 s, the default 2 s timeout) with
// the first measurement 5 s after the start: no timeouts, no failures, and
// samples spaced so that each gets a new measurement.
func TestSCD4xTimingWithTheRunner(t *testing.T) {
	for _, samples := range []int{1, 2} {
		t.Run(fmt.Sprintf("samples %d", samples), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				chip := &scd4xModel{chipModel: chipModel{addr: 0x62}}
				got, st := runFor(t, sensorSpec("scd4x", 10*time.Second, 2*time.Second, samples), i2cBuses(chip), time.Minute)
				if st.Errors != 0 {
					t.Errorf("samples %d: %d failures, last: %s", samples, st.Errors, st.LastError)
				}
				if len(got) < 5 {
					t.Errorf("samples %d: %d readings in a minute at a 10 s interval", samples, len(got))
				}
				for _, r := range got {
					if r.Values["co2_ppm"] != 500 {
						t.Errorf("samples %d: reading %v", samples, r.Values)
					}
				}
				if b := chip.broken(); len(b) > 0 {
					t.Errorf("samples %d: the driver broke the datasheet's rules: %v", samples, b)
				}
			})
		})
	}
}

// The first reading of an SCD4x read every 10 s comes as soon as the chip
// has its first measurement, 5 s after start_periodic_measurement
// (datasheet section 3.5), which follows the 500 ms wait after
// stop_periodic_measurement: about 5.5 s after the start, not at the
// second interval.
func TestSCD4xFirstReadingWhenTheChipHasOne(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		chip := &scd4xModel{chipModel: chipModel{addr: 0x62}}
		start := time.Now()
		got, st := runFor(t, sensorSpec("scd4x", 10*time.Second, 2*time.Second, 1), i2cBuses(chip), 8*time.Second)
		if len(got) == 0 {
			t.Fatalf("no reading in the first 8 s (status %+v)", st)
		}
		t.Logf("first reading %v after the start", got[0].Time.Sub(start))
		if first := got[0].Time.Sub(start); first < 5500*time.Millisecond || first > 6*time.Second {
			t.Errorf("first reading %v after the start, want 5.5 s to 6 s (the first measurement 5 s after the start command)", first)
		}
		if st.Errors != 0 {
			t.Errorf("%d failures, last: %s", st.Errors, st.LastError)
		}
		if b := chip.broken(); len(b) > 0 {
			t.Errorf("the driver broke the datasheet's rules: %v", b)
		}
	})
}

// Three samples of an HDC302x in 10 s: each from a new result, none the
// minimum values of a result read twice.
func TestHDC302xTimingWithTheRunner(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		chip := &hdc302xModel{chipModel: chipModel{addr: 0x44}}
		got, st := runFor(t, sensorSpec("hdc302x", 10*time.Second, 2*time.Second, 3), i2cBuses(chip), time.Minute)
		if st.Errors != 0 {
			t.Errorf("%d failures, last: %s", st.Errors, st.LastError)
		}
		if len(got) < 5 {
			t.Errorf("%d readings in a minute", len(got))
		}
		for _, r := range got {
			if !near(r.Values["temperature_c"], 25) {
				t.Errorf("reading %v, want 25 °C from every sample", r.Values)
			}
		}
		if b := chip.broken(); len(b) > 0 {
			t.Errorf("the driver broke the datasheet's rules: %v", b)
		}
	})
}

// An SGP30 read at 1 s: measure_air_quality keeps its 1 s cadence through
// the warm-up and past a failed read, and the warm-up's fixed values are
// never published nor counted as failures.
func TestSGP30CadenceWithTheRunner(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		chip := &sgp30Model{chipModel: chipModel{addr: 0x58}, failAt: 30 * time.Second}
		got, st := runFor(t, sensorSpec("sgp30", time.Second, 500*time.Millisecond, 1), i2cBuses(chip), time.Minute)
		if st.Errors != 1 {
			t.Errorf("%d failures, want only the one glitch (last: %s)", st.Errors, st.LastError)
		}
		for _, r := range got {
			if r.Values["eco2_ppm"] == 400 && r.Values["tvoc_ppb"] == 0 {
				t.Errorf("published the warm-up's fixed values at %v", r.Time)
			}
		}
		if len(got) < 40 {
			t.Errorf("%d readings in a minute at 1 s, 15 s of them warm-up", len(got))
		}
		chip.mu.Lock()
		defer chip.mu.Unlock()
		for i := 1; i < len(chip.measures); i++ {
			// The glitch costs one measurement, so one gap is 2 s.
			if gap := chip.measures[i].Sub(chip.measures[i-1]); gap != time.Second && gap != 2*time.Second {
				t.Errorf("measure_air_quality %v after the one before, want the datasheet's 1 s", gap)
			}
		}
	})
}

// Three samples of an AM2320 in 10 s, 2 s apart as its datasheet asks.
func TestAM2320SpacingWithTheRunner(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		chip := &am2320Model{chipModel: chipModel{addr: 0x5c}}
		got, st := runFor(t, sensorSpec("am2320", 10*time.Second, 2*time.Second, 3), i2cBuses(chip), time.Minute)
		if st.Errors != 0 {
			t.Errorf("%d failures, last: %s", st.Errors, st.LastError)
		}
		if len(got) < 5 || !near(got[0].Values["temperature_c"], 27.7) {
			t.Errorf("readings %v", got)
		}
		if b := chip.broken(); len(b) > 0 {
			t.Errorf("the driver broke the datasheet's rules: %v", b)
		}
	})
}

func near(a, b float64) bool { return a-b < 0.01 && b-a < 0.01 }
