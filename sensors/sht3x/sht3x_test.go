package sht3x

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/edgepub/edgepub/sensors"
	"github.com/edgepub/edgepub/sensors/internal/bustest"
	"periph.io/x/conn/v3/i2c/i2ctest"
)

// Replies computed by hand from the datasheet (section 4.13, conversion of
// signal output; section 4.12, CRC-8 with polynomial 0x31 and init 0xFF,
// example CRC(0xBEEF) = 0x92): raw 0x6666 is 0.4 of full scale, so
// T = -45 + 175*0.4 = 25 °C; raw 0x9999 is 0.6, so RH = 60 %.
// CRC(0x6666) = 0x93, CRC(0x9999) = 0xBE, CRC(0x0000) = 0x81,
// CRC(0xFFFF) = 0xAC. The status reply is the datasheet's CRC example
// word 0xBEEF: the driver only checks that a CRC-valid word comes back.
var (
	statusOps = []i2ctest.IO{
		{Addr: 0x44, W: []byte{0xF3, 0x2D}},
		{Addr: 0x44, R: []byte{0xBE, 0xEF, 0x92}},
	}
	reply25C60pct = []byte{0x66, 0x66, 0x93, 0x99, 0x99, 0xBE}
)

func measureOps(code []byte, reply []byte) []i2ctest.IO {
	return []i2ctest.IO{{Addr: 0x44, W: code}, {Addr: 0x44, R: reply}}
}

// newDev opens the SHT3x at 0x44 on bus, through a Timed bus that notes
// the driver's waits between transfers; tests call it in a synctest bubble.
func newDev(t *testing.T, bus *i2ctest.Playback, opts Opts) (*Dev, *bustest.Timed) {
	t.Helper()
	timed := &bustest.Timed{Bus: bus}
	d, err := NewI2C(timed, 0x44, &opts)
	if err != nil {
		t.Fatalf("NewI2C: %v", err)
	}
	return d, timed
}

func TestSenseDecodesDatasheetFormulas(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := &i2ctest.Playback{Ops: slices.Concat(statusOps, measureOps([]byte{0x24, 0x00}, reply25C60pct)), DontPanic: true}
		d, timed := newDev(t, bus, DefaultOpts)
		v, err := d.Sense(context.Background())
		if err != nil {
			t.Fatalf("Sense: %v", err)
		}
		if len(v) != 2 || math.Abs(v["temperature_c"]-25) > 1e-9 || math.Abs(v["humidity_pct"]-60) > 1e-9 {
			t.Errorf("Sense() = %v, want temperature_c 25 and humidity_pct 60", v)
		}
		if w := timed.Waits(); !slices.Equal(w, []time.Duration{16 * time.Millisecond}) {
			t.Errorf("waits = %v, want 16ms last (15 ms maximum duration at high repeatability, table 4)", w)
		}
		bustest.AllUsed(t, bus)
	})
}

func TestRepeatabilitySelectsCommandWithoutClockStretching(t *testing.T) {
	// Table 9, "clock stretching disabled" column: 0x2400, 0x240B, 0x2416.
	for _, tc := range []struct {
		r    Repeatability
		code []byte
		wait time.Duration
	}{
		{High, []byte{0x24, 0x00}, 16 * time.Millisecond},
		{Medium, []byte{0x24, 0x0B}, 7 * time.Millisecond},
		{Low, []byte{0x24, 0x16}, 5 * time.Millisecond},
	} {
		t.Run(tc.r.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				bus := &i2ctest.Playback{Ops: slices.Concat(statusOps, measureOps(tc.code, reply25C60pct)), DontPanic: true}
				d, timed := newDev(t, bus, Opts{Repeatability: tc.r})
				if _, err := d.Sense(context.Background()); err != nil {
					t.Fatalf("Sense: %v", err)
				}
				if w := timed.Waits(); !slices.Equal(w, []time.Duration{tc.wait}) {
					t.Errorf("waits = %v, want %v", w, tc.wait)
				}
				bustest.AllUsed(t, bus)
			})
		})
	}
}

func TestSenseRejects(t *testing.T) {
	for _, tc := range []struct {
		name   string
		reply  []byte
		target error
		text   string
	}{
		{"temperature CRC", []byte{0x66, 0x66, 0x94, 0x99, 0x99, 0xBE}, nil, "crc mismatch in word 0"},
		{"humidity CRC", []byte{0x66, 0x66, 0x93, 0x99, 0x98, 0xBE}, nil, "crc mismatch in word 1"},
		// raw 0xFFFF is 130 °C: a valid CRC but outside the sensor's range.
		{"too hot", []byte{0xFF, 0xFF, 0xAC, 0x99, 0x99, 0xBE}, sensors.ErrImplausible, "130.00 °C"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				bus := &i2ctest.Playback{Ops: slices.Concat(statusOps, measureOps([]byte{0x24, 0x00}, tc.reply)), DontPanic: true}
				d, _ := newDev(t, bus, DefaultOpts)
				v, err := d.Sense(context.Background())
				if err == nil || (tc.target != nil && !errors.Is(err, tc.target)) {
					t.Fatalf("Sense() = %v, %v; want an error (%v)", v, err, tc.target)
				}
				if !strings.Contains(err.Error(), tc.text) || !strings.Contains(err.Error(), "sht3x at 0x44") {
					t.Errorf("error %q should name the device and contain %q", err, tc.text)
				}
				bustest.AllUsed(t, bus)
			})
		})
	}
}

func TestHumidityClamped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// raw 0x0000 is 0 % and raw 0xFFFF is 100 %: the formula itself stays
		// inside the range, so the clamp is only a guard; check both ends.
		for _, tc := range []struct {
			reply []byte
			want  float64
		}{
			{[]byte{0x66, 0x66, 0x93, 0xFF, 0xFF, 0xAC}, 100},
			{[]byte{0x66, 0x66, 0x93, 0x00, 0x00, 0x81}, 0},
		} {
			bus := &i2ctest.Playback{Ops: slices.Concat(statusOps, measureOps([]byte{0x24, 0x00}, tc.reply)), DontPanic: true}
			d, _ := newDev(t, bus, DefaultOpts)
			v, err := d.Sense(context.Background())
			if err != nil || v["humidity_pct"] != tc.want {
				t.Errorf("Sense() = %v, %v; want humidity_pct %v", v, err, tc.want)
			}
			bustest.AllUsed(t, bus)
		}
	})
}

func TestNewI2CRejects(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		if _, err := NewI2C(&i2ctest.Playback{DontPanic: true}, 0x46, nil); err == nil || !strings.Contains(err.Error(), "0x44 or 0x45") {
			t.Errorf("address 0x46: %v, want the valid addresses named", err)
		}
		errNACK := errors.New("remote I/O error")
		bus := &bustest.FailingBus{Playback: i2ctest.Playback{DontPanic: true}, Err: errNACK}
		if _, err := NewI2C(bus, 0x45, nil); !errors.Is(err, errNACK) || !strings.Contains(err.Error(), "is an SHT3x connected") {
			t.Errorf("no device: %v, want the NACK and a hint", err)
		}
		bad := &i2ctest.Playback{Ops: []i2ctest.IO{statusOps[0], {Addr: 0x44, R: []byte{0xBE, 0xEF, 0x93}}}, DontPanic: true}
		if _, err := NewI2C(bad, 0x44, nil); err == nil || !strings.Contains(err.Error(), "crc") {
			t.Errorf("status with a bad CRC: %v, want a CRC error", err)
		}
	})
}

func TestSenseHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := &i2ctest.Playback{Ops: slices.Concat(statusOps, measureOps([]byte{0x24, 0x00}, reply25C60pct)[:1]), DontPanic: true}
		d, _ := newDev(t, bus, DefaultOpts)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
		defer cancel()
		start := time.Now()
		if _, err := d.Sense(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Sense = %v, want context.DeadlineExceeded while waiting for the measurement", err)
		}
		if took := time.Since(start); took != 5*time.Millisecond {
			t.Errorf("Sense returned after %v, want 5ms: at the deadline, not at the end of the 16 ms wait", took)
		}
		bustest.AllUsed(t, bus)
	})
}

func TestReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Table 13: soft reset 0x30A2, at most 1.5 ms.
		bus := &i2ctest.Playback{Ops: slices.Concat(statusOps, []i2ctest.IO{{Addr: 0x44, W: []byte{0x30, 0xA2}}}), DontPanic: true}
		d, timed := newDev(t, bus, DefaultOpts)
		if err := d.Reset(context.Background()); err != nil {
			t.Fatalf("Reset: %v", err)
		}
		if w := timed.SinceLast(); w != 2*time.Millisecond {
			t.Errorf("reset wait = %v, want 2ms", w)
		}
		bustest.AllUsed(t, bus)
	})
}
