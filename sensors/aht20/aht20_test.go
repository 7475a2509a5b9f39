package aht20

import (
	"bytes"
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

// Replies computed by hand from the datasheet's conversion formulas
// (RH = S_RH/2²⁰·100 %, T = S_T/2²⁰·200 - 50 °C) and its CRC-8 (polynomial
// 0x31, initial 0xFF), not by periph: status 0x1C (calibrated, idle),
// S_RH = 0x80000 → 50 %, S_T = 0x60000 → 25 °C, CRC 0x4E.
var (
	softReset     = i2ctest.IO{Addr: 0x38, W: []byte{0xBA}}
	statusIdle    = i2ctest.IO{Addr: 0x38, R: []byte{0x1C}} // a plain read
	trigger       = i2ctest.IO{Addr: 0x38, W: []byte{0xAC, 0x33, 0x00}}
	initialize    = i2ctest.IO{Addr: 0x38, W: []byte{0xBE, 0x08, 0x00}}
	reply25C50pct = []byte{0x1C, 0x80, 0x00, 0x06, 0x00, 0x00, 0x4E}
)

// started is what NewI2C sends to a calibrated sensor: the soft reset,
// then a plain read of the status.
var started = []i2ctest.IO{softReset, statusIdle}

func ops(after ...i2ctest.IO) []i2ctest.IO {
	return append(append([]i2ctest.IO{}, started...), after...)
}

func readReply(r []byte) i2ctest.IO { return i2ctest.IO{Addr: 0x38, R: r} }

// busyBus is a sensor that accepts every command and always answers busy.
type busyBus struct{ i2ctest.Playback }

func (b *busyBus) Tx(addr uint16, w, r []byte) error {
	if len(r) == 7 && len(w) == 0 {
		// Status 0x9C (busy, calibrated) with its CRC 0xA2.
		copy(r, []byte{0x9C, 0x80, 0x00, 0x06, 0x00, 0x00, 0xA2})
		return nil
	}
	return b.Playback.Tx(addr, w, r)
}

func TestSenseDecodesDatasheetFormulas(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := &i2ctest.Playback{Ops: ops(trigger, readReply(reply25C50pct)), DontPanic: true}
		timed := &bustest.Timed{Bus: bus}
		d, err := NewI2C(timed, DefaultAddr, nil)
		if err != nil {
			t.Fatalf("NewI2C: %v", err)
		}
		v, err := d.Sense(context.Background())
		if err != nil {
			t.Fatalf("Sense: %v", err)
		}
		if len(v) != 2 || math.Abs(v["temperature_c"]-25) > 1e-6 || math.Abs(v["humidity_pct"]-50) > 1e-6 {
			t.Errorf("Sense() = %v, want temperature_c 25 and humidity_pct 50", v)
		}
		// Datasheet section 5.4: wait 80 ms for the measurement.
		if want := []time.Duration{20 * time.Millisecond, 80 * time.Millisecond}; !slices.Equal(timed.Waits(), want) {
			t.Errorf("waited %v, want %v (soft reset, measurement)", timed.Waits(), want)
		}
		bustest.AllUsed(t, bus)
	})
}

// The datasheet's start sequence (v1.1, section 5.4; soft reset 5.5):
// 40 ms after power-up, a soft reset (20 ms), the status by a plain read,
// and, as newer batches come up with calibration bit 3 clear (status 0x10),
// the initialisation 0xBE 0x08 0x00 and 10 ms.
func TestNewI2CRunsTheStartSequence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := &i2ctest.Playback{Ops: []i2ctest.IO{
			softReset,
			{Addr: 0x38, R: []byte{0x10}},
			initialize,
			{Addr: 0x38, R: []byte{0x18}},
		}, DontPanic: true}
		timed := &bustest.Timed{Bus: bus, Gaps: bustest.Gaps{From: time.Now()}}
		if _, err := NewI2C(timed, DefaultAddr, nil); err != nil {
			t.Fatalf("NewI2C: %v", err)
		}
		bustest.AllUsed(t, bus)
		want := []time.Duration{40 * time.Millisecond, 20 * time.Millisecond, 10 * time.Millisecond}
		if got := timed.Waits(); !slices.Equal(got, want) {
			t.Errorf("waited %v, want %v", got, want)
		}
	})
}

// A sensor whose calibration bit stays clear is refused at once.
func TestNewI2CRefusesAnUncalibratableSensor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := &i2ctest.Playback{Ops: []i2ctest.IO{softReset, {Addr: 0x38, R: []byte{0x10}}, initialize, {Addr: 0x38, R: []byte{0x10}}}, DontPanic: true}
		if _, err := NewI2C(bus, DefaultAddr, nil); err == nil || !strings.Contains(err.Error(), "calibration bit stays clear") {
			t.Errorf("NewI2C = %v", err)
		}
	})
}

// A reply without the calibration bit, which periph's driver fails on every
// read, makes the driver initialise the sensor and measure again.
func TestSenseRecalibrates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lost := []byte{0x14, 0x80, 0x00, 0x06, 0x00, 0x00, 0x94} // status 0x14: bit 3 clear; CRC by hand
		bus := &i2ctest.Playback{Ops: ops(trigger, readReply(lost),
			i2ctest.IO{Addr: 0x38, R: []byte{0x14}}, initialize, i2ctest.IO{Addr: 0x38, R: []byte{0x1C}},
			trigger, readReply(reply25C50pct)), DontPanic: true}
		d, err := NewI2C(bus, DefaultAddr, nil)
		if err != nil {
			t.Fatal(err)
		}
		v, err := d.Sense(context.Background())
		if err != nil || math.Abs(v["temperature_c"]-25) > 1e-6 {
			t.Errorf("Sense = %v, %v; want 25 °C after recalibration", v, err)
		}
		bustest.AllUsed(t, bus)
	})
}

func TestSensePollsWhileBusy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		busy := []byte{0x9C, 0x80, 0x00, 0x06, 0x00, 0x00, 0xA2}
		bus := &i2ctest.Playback{Ops: ops(trigger, readReply(busy), readReply(reply25C50pct)), DontPanic: true}
		timed := &bustest.Timed{Bus: bus}
		d, err := NewI2C(timed, DefaultAddr, nil)
		if err != nil {
			t.Fatalf("NewI2C: %v", err)
		}
		if _, err := d.Sense(context.Background()); err != nil {
			t.Fatalf("Sense: %v", err)
		}
		if want := []time.Duration{20 * time.Millisecond, 80 * time.Millisecond, 10 * time.Millisecond}; !slices.Equal(timed.Waits(), want) {
			t.Errorf("waited %v, want %v (soft reset, measurement, one 10 ms poll)", timed.Waits(), want)
		}
		bustest.AllUsed(t, bus)
	})
}

func TestSenseRejects(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply []byte
		check func(error) bool
		text  string
	}{
		{"CRC", []byte{0x1C, 0x80, 0x00, 0x06, 0x00, 0x01, 0x4E}, func(err error) bool { return errors.Is(err, ErrCRC) }, "CRC"},
		// A bus with nothing on it reads all 0xFF or all 0x00; neither
		// carries a valid CRC.
		{"all 0xFF", bytes.Repeat([]byte{0xFF}, 7), func(err error) bool { return errors.Is(err, ErrCRC) }, "CRC"},
		{"all 0x00", make([]byte, 7), func(err error) bool { return errors.Is(err, ErrCRC) }, "CRC"},
		// S_T = 0xF0000 → 137.5 °C and S_T = 0x01000 → -49.22 °C, valid CRCs.
		{"too hot", []byte{0x1C, 0x80, 0x00, 0x0F, 0x00, 0x00, 0x5A}, func(err error) bool { return errors.Is(err, sensors.ErrImplausible) }, "137.50 °C"},
		{"too cold", []byte{0x1C, 0x80, 0x00, 0x00, 0x10, 0x00, 0x85}, func(err error) bool { return errors.Is(err, sensors.ErrImplausible) }, "-49.22 °C"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				bus := &i2ctest.Playback{Ops: ops(trigger, readReply(tc.reply)), DontPanic: true}
				d, err := NewI2C(bus, DefaultAddr, nil)
				if err != nil {
					t.Fatalf("NewI2C: %v", err)
				}
				v, err := d.Sense(context.Background())
				if err == nil || !tc.check(err) {
					t.Fatalf("Sense() = %v, %v; want a %s error", v, err, tc.name)
				}
				if !strings.Contains(err.Error(), tc.text) || !strings.HasPrefix(err.Error(), "aht20 at 0x38 on playback: ") {
					t.Errorf("error %q should name the device and contain %q", err, tc.text)
				}
				bustest.AllUsed(t, bus)
			})
		})
	}
}

func TestSenseTimesOutOnStuckSensor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := &busyBus{i2ctest.Playback{Ops: ops(trigger), DontPanic: true}}
		d, err := NewI2C(bus, DefaultAddr, &Opts{ReadTimeout: 20 * time.Millisecond})
		if err != nil {
			t.Fatalf("NewI2C: %v", err)
		}
		if _, err := d.Sense(context.Background()); !errors.Is(err, ErrBusy) {
			t.Fatalf("Sense error = %v, want a read timeout", err)
		}
		bustest.AllUsed(t, &bus.Playback)
	})
}

func TestSenseReportsBusErrors(t *testing.T) {
	errNACK := errors.New("remote I/O error")
	t.Run("NACK on trigger", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			bus := &bustest.FailingBus{Playback: i2ctest.Playback{Ops: ops(), DontPanic: true}, Err: errNACK}
			d, err := NewI2C(bus, DefaultAddr, nil)
			if err != nil {
				t.Fatalf("NewI2C: %v", err)
			}
			if _, err := d.Sense(context.Background()); !errors.Is(err, errNACK) {
				t.Fatalf("Sense error = %v, want the NACK", err)
			}
			bustest.AllUsed(t, &bus.Playback)
		})
	})
	t.Run("short read", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			// The recording holds 4 of the 7 bytes, so the playback refuses it.
			bus := &i2ctest.Playback{Ops: ops(trigger, readReply(reply25C50pct[:4])), DontPanic: true}
			d, err := NewI2C(bus, DefaultAddr, nil)
			if err != nil {
				t.Fatalf("NewI2C: %v", err)
			}
			if _, err := d.Sense(context.Background()); err == nil || !strings.Contains(err.Error(), "read: ") {
				t.Fatalf("Sense error = %v, want a read failure", err)
			}
			if bus.Count != len(bus.Ops)-1 {
				t.Errorf("used %d of %d transactions, want all but the short read", bus.Count, len(bus.Ops))
			}
		})
	})
}

func TestSenseHonoursCancelledContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := &i2ctest.Playback{Ops: ops(), DontPanic: true}
		d, err := NewI2C(bus, DefaultAddr, nil)
		if err != nil {
			t.Fatalf("NewI2C: %v", err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := d.Sense(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Sense error = %v, want context.Canceled", err)
		}
		bustest.AllUsed(t, bus) // no measurement was triggered
	})
}

func TestNewI2CRejects(t *testing.T) {
	t.Run("wrong address", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			bus := &i2ctest.Playback{DontPanic: true}
			if _, err := NewI2C(bus, 0x39, nil); err == nil || !strings.Contains(err.Error(), "fixed at 0x38") {
				t.Fatalf("NewI2C error = %v, want the fixed address named", err)
			}
			bustest.AllUsed(t, bus)
		})
	})
	t.Run("zero timeout", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			bus := &i2ctest.Playback{DontPanic: true}
			if _, err := NewI2C(bus, DefaultAddr, &Opts{}); err == nil {
				t.Fatal("NewI2C accepted a zero read timeout")
			}
			bustest.AllUsed(t, bus)
		})
	})
	t.Run("no device", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			errNACK := errors.New("remote I/O error")
			bus := &bustest.FailingBus{Playback: i2ctest.Playback{DontPanic: true}, Err: errNACK}
			_, err := NewI2C(bus, DefaultAddr, nil)
			if !errors.Is(err, errNACK) || !strings.Contains(err.Error(), "is an AHT20 connected") {
				t.Fatalf("NewI2C error = %v, want the NACK and a hint", err)
			}
		})
	})
}
