package scd4x

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
	"github.com/edgepub/edgepub/sensors/internal/sensirion"
	"periph.io/x/conn/v3/i2c/i2ctest"
)

// initOps is what NewI2C sends to a sensor with the datasheet's example
// serial number.
func initOps() []i2ctest.IO {
	return []i2ctest.IO{
		{Addr: Addr, W: []byte{0x3f, 0x86}},
		{Addr: Addr, W: []byte{0x36, 0x82}},
		{Addr: Addr, R: sensirion.EncodeWords(0xf896, 0x9f07, 0x3bb4)},
		{Addr: Addr, W: []byte{0x21, 0xb1}},
	}
}

func readyOps(status uint16) []i2ctest.IO {
	return []i2ctest.IO{{Addr: Addr, W: []byte{0xe4, 0xb8}}, {Addr: Addr, R: sensirion.EncodeWords(status)}}
}

func measurementOps(co2, t, rh uint16) []i2ctest.IO {
	return []i2ctest.IO{{Addr: Addr, W: []byte{0xec, 0x05}}, {Addr: Addr, R: sensirion.EncodeWords(co2, t, rh)}}
}

// open starts the sensor on a playback of ops through a Timed bus that
// notes the driver's waits between transfers. Tests call it in a synctest
// bubble and move the clock with time.Sleep; NewI2C returns right after
// start_periodic_measurement, so the time it returns is the start.
func open(t *testing.T, ops []i2ctest.IO, opts *Opts) (*Dev, *i2ctest.Playback, *bustest.Timed) {
	t.Helper()
	bus := &i2ctest.Playback{DontPanic: true, Ops: ops}
	timed := &bustest.Timed{Bus: bus}
	d, err := NewI2C(context.Background(), timed, Addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	return d, bus, timed
}

// Datasheet section 3.5: 500 ms after stop_periodic_measurement before the
// next command, 1 ms for get_serial_number, get_data_ready_status and
// read_measurement.
func TestSenseDatasheetExample(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ops := initOps()
		ops = append(ops, readyOps(0x8000)...) // not ready yet
		ops = append(ops, readyOps(0x8006)...)
		// Datasheet read_measurement example: 500 ppm, 25 °C, 37 %RH.
		ops = append(ops, measurementOps(0x01f4, 0x6667, 0x5eb9)...)
		d, bus, timed := open(t, ops, nil)
		if d.Serial() != 0xf8969f073bb4 {
			t.Errorf("serial %#x", d.Serial())
		}
		if w := timed.SinceLast(); w != 0 {
			t.Errorf("NewI2C returned %v after start_periodic_measurement, want at once", w)
		}
		warm := Period + time.Second + time.Millisecond // past the warm-up
		time.Sleep(warm)
		v, err := d.Sense(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if v[FieldCO2] != 500 || math.Abs(v[FieldTemperature]-25) > 0.01 || math.Abs(v[FieldHumidity]-37) > 0.01 || len(v) != 3 {
			t.Errorf("got %v, want 500 ppm, 25 °C, 37 %%", v)
		}
		want := []time.Duration{
			500 * time.Millisecond, time.Millisecond, // stop; serial number
			warm, time.Millisecond, 250 * time.Millisecond, // the test's wait; not ready, poll again
			time.Millisecond, time.Millisecond, // ready; measurement
		}
		if !slices.Equal(timed.Waits(), want) {
			t.Errorf("waited %v between transfers, want %v", timed.Waits(), want)
		}
		bustest.AllUsed(t, bus)
	})
}

// Datasheet: set_sensor_altitude takes 1 ms; low-power periodic
// measurement gives a new value every 30 s.
func TestLowPowerAndAltitude(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ops := initOps()
		ops[3] = i2ctest.IO{Addr: Addr, W: []byte{0x24, 0x27, 0x01, 0xf4, 0x33}} // 500 m
		ops = append(ops, i2ctest.IO{Addr: Addr, W: []byte{0x21, 0xac}}, i2ctest.IO{Addr: Addr, W: []byte{0x3f, 0x86}})
		d, bus, timed := open(t, ops, &Opts{LowPower: true, AltitudeM: 500})
		if d.Spacing() != 30*time.Second {
			t.Errorf("Spacing = %v, want the datasheet's 30 s in low power", d.Spacing())
		}
		if err := d.Halt(); err != nil {
			t.Fatal(err)
		}
		// stop; serial number; altitude, then the start.
		if want := []time.Duration{500 * time.Millisecond, time.Millisecond, time.Millisecond}; !slices.Equal(timed.Waits(), want) {
			t.Errorf("waited %v between transfers, want %v", timed.Waits(), want)
		}
		bustest.AllUsed(t, bus)
		if _, err := NewI2C(context.Background(), bus, Addr, &Opts{AltitudeM: 4000}); err == nil {
			t.Error("accepted 4000 m")
		}
	})
}

func TestImplausibleCO2(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, co2 := range []uint16{0, 40001} {
			ops := append(initOps(), readyOps(0x0001)...)
			ops = append(ops, measurementOps(co2, 0x6667, 0x5eb9)...)
			d, bus, _ := open(t, ops, nil)
			if _, err := d.Sense(context.Background()); !errors.Is(err, sensors.ErrImplausible) {
				t.Errorf("co2 %d: %v, want ErrImplausible", co2, err)
			}
			bustest.AllUsed(t, bus)
		}
	})
}

func TestCRCErrorIsReported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ops := append(initOps(), readyOps(0x0001)...)
		m := measurementOps(0x01f4, 0x6667, 0x5eb9)
		m[1].R[5] ^= 0x01 // corrupt the temperature word's CRC
		ops = append(ops, m...)
		d, _, _ := open(t, ops, nil)
		_, err := d.Sense(context.Background())
		if err == nil || !strings.Contains(err.Error(), "crc mismatch in word 1") {
			t.Errorf("Sense = %v, want a crc error for word 1", err)
		}
		if errors.Is(err, sensors.ErrImplausible) {
			t.Error("a crc error is a bus fault, not an implausible value")
		}
	})
}

func TestNoAnswer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nack := errors.New("i2c: remote i/o error")
		_, err := NewI2C(context.Background(), bustest.BrokenBus{Err: nack}, Addr, nil)
		if !errors.Is(err, nack) || !strings.Contains(err.Error(), "scd4x at 0x62 on broken: no answer") {
			t.Errorf("NewI2C = %v", err)
		}
		// A short read during init: the serial number has 6 bytes, not 9.
		ops := initOps()
		ops[2].R = ops[2].R[:6]
		_, err = NewI2C(context.Background(), &i2ctest.Playback{DontPanic: true, Ops: ops}, Addr, nil)
		if err == nil || !strings.Contains(err.Error(), "serial number") {
			t.Errorf("short read: %v", err)
		}
	})
}

func TestWaitForMeasurementHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, bus, _ := open(t, append(initOps(), readyOps(0x8000)...), nil)
		time.Sleep(Period + time.Second + time.Millisecond) // past the warm-up
		// The deadline comes during the 250 ms poll after a not-ready
		// status; it ends the wait then.
		short, cancelShort := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancelShort()
		start := time.Now()
		_, err := d.Sense(short)
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "every 5s") {
			t.Errorf("Sense = %v, want DeadlineExceeded with the measurement period", err)
		}
		if took := time.Since(start); took != 100*time.Millisecond {
			t.Errorf("Sense returned after %v, want 100ms: at the deadline", took)
		}
		bustest.AllUsed(t, bus)

		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := d.Sense(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("done context: %v", err)
		}
		start = time.Now()
		if _, err := NewI2C(ctx, &i2ctest.Playback{DontPanic: true, Ops: initOps()}, Addr, nil); !errors.Is(err, context.Canceled) {
			t.Errorf("NewI2C with a done context: %v", err)
		}
		if took := time.Since(start); took != 0 {
			t.Errorf("NewI2C with a done context took %v, want no wait after stop_periodic_measurement", took)
		}
	})
}

// Datasheet section 3.5 (start_periodic_measurement): the first result is
// ready 5 s after the start. Until then Sense says so at once, after the
// 1 ms of get_data_ready_status, instead of polling into the read's
// timeout; after it, a not-ready sensor is waited for as before.
func TestWarmUpIsNotAWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, bus, _ := open(t, append(initOps(), readyOps(0x8000)...), nil)
		if d.Spacing() != 5*time.Second {
			t.Errorf("Spacing = %v, want the datasheet's 5 s", d.Spacing())
		}
		time.Sleep(4 * time.Second)
		start := time.Now()
		_, err := d.Sense(context.Background())
		if !errors.Is(err, sensors.ErrWarmingUp) || errors.Is(err, sensors.ErrImplausible) {
			t.Fatalf("Sense 4 s after the start = %v, want ErrWarmingUp", err)
		}
		if took := time.Since(start); took != time.Millisecond {
			t.Errorf("Sense took %v during the warm-up, want the 1ms of get_data_ready_status and no poll", took)
		}
		bustest.AllUsed(t, bus)
	})
}

// Datasheet section 3.5: the first measurement is ready 5 s after
// start_periodic_measurement. A status read 4 s after the start says it
// comes 1 s from then, so that the Runner reads right then; one past the
// 5 s, while the chip's clock may still be late, says to ask again after a
// poll.
func TestWarmUpSaysWhenTheFirstMeasurementComes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ops := append(initOps(), readyOps(0x8000)...)
		ops = append(ops, readyOps(0x8000)...)
		d, bus, _ := open(t, ops, nil)
		started := time.Now()
		for _, tc := range []struct{ statusAt, readyIn time.Duration }{
			{4 * time.Second, time.Second},
			{5100 * time.Millisecond, 250 * time.Millisecond},
		} {
			// The status is read 1 ms after its command.
			time.Sleep(time.Until(started.Add(tc.statusAt - time.Millisecond)))
			_, err := d.Sense(context.Background())
			var wu *sensors.WarmingUp
			if !errors.As(err, &wu) || wu.ReadyIn != tc.readyIn || !errors.Is(err, sensors.ErrWarmingUp) {
				t.Errorf("Sense with the status read %v after the start = %v, want a warm-up ready in %v", tc.statusAt, err, tc.readyIn)
			}
			if at := time.Since(started); at != tc.statusAt {
				t.Errorf("Sense returned %v after the start, want %v: when it read the status", at, tc.statusAt)
			}
		}
		bustest.AllUsed(t, bus)
	})
}
