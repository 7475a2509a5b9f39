package scd4x

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
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

// fakeClock is a clock the test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

// warmClock is a clock that starts at the sensor's start and is moved past
// the first measurement by warm.
func warmClock() *fakeClock { return &fakeClock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) warm() { c.t = c.t.Add(Period + time.Second + time.Millisecond) }

func TestSenseDatasheetExample(t *testing.T) {
	ops := initOps()
	ops = append(ops, readyOps(0x8000)...) // not ready yet
	ops = append(ops, readyOps(0x8006)...)
	// Datasheet read_measurement example: 500 ppm, 25 °C, 37 %RH.
	ops = append(ops, measurementOps(0x01f4, 0x6667, 0x5eb9)...)
	bus := &i2ctest.Playback{DontPanic: true, Ops: ops}
	var sleeps bustest.Sleeps
	clock := warmClock()
	d, err := NewI2C(context.Background(), bus, Addr, &Opts{Sleep: sleeps.Sleep, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	clock.warm()
	if d.Serial() != 0xf8969f073bb4 {
		t.Errorf("serial %#x", d.Serial())
	}
	v, err := d.Sense(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if v[FieldCO2] != 500 || math.Abs(v[FieldTemperature]-25) > 0.01 || math.Abs(v[FieldHumidity]-37) > 0.01 || len(v) != 3 {
		t.Errorf("got %v, want 500 ppm, 25 °C, 37 %%", v)
	}
	want := []time.Duration{
		500 * time.Millisecond, time.Millisecond, // stop, serial number
		time.Millisecond, 250 * time.Millisecond, // not ready, poll again
		time.Millisecond, time.Millisecond, // ready, measurement
	}
	if !slices.Equal(sleeps.Waits(), want) {
		t.Errorf("waited %v, want %v", sleeps.Waits(), want)
	}
	bustest.AllUsed(t, bus)
}

func TestLowPowerAndAltitude(t *testing.T) {
	ops := initOps()
	ops[3] = i2ctest.IO{Addr: Addr, W: []byte{0x24, 0x27, 0x01, 0xf4, 0x33}} // 500 m
	ops = append(ops, i2ctest.IO{Addr: Addr, W: []byte{0x21, 0xac}}, i2ctest.IO{Addr: Addr, W: []byte{0x3f, 0x86}})
	bus := &i2ctest.Playback{DontPanic: true, Ops: ops}
	var sleeps bustest.Sleeps
	d, err := NewI2C(context.Background(), bus, Addr, &Opts{LowPower: true, AltitudeM: 500, Sleep: sleeps.Sleep})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Halt(); err != nil {
		t.Fatal(err)
	}
	bustest.AllUsed(t, bus)
	if _, err := NewI2C(context.Background(), bus, Addr, &Opts{AltitudeM: 4000}); err == nil {
		t.Error("accepted 4000 m")
	}
}

func TestImplausibleCO2(t *testing.T) {
	for _, co2 := range []uint16{0, 40001} {
		ops := append(initOps(), readyOps(0x0001)...)
		ops = append(ops, measurementOps(co2, 0x6667, 0x5eb9)...)
		bus := &i2ctest.Playback{DontPanic: true, Ops: ops}
		var sleeps bustest.Sleeps
		d, err := NewI2C(context.Background(), bus, Addr, &Opts{Sleep: sleeps.Sleep})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Sense(context.Background()); !errors.Is(err, sensors.ErrImplausible) {
			t.Errorf("co2 %d: %v, want ErrImplausible", co2, err)
		}
		bustest.AllUsed(t, bus)
	}
}

func TestCRCErrorIsReported(t *testing.T) {
	ops := append(initOps(), readyOps(0x0001)...)
	m := measurementOps(0x01f4, 0x6667, 0x5eb9)
	m[1].R[5] ^= 0x01 // corrupt the temperature word's CRC
	ops = append(ops, m...)
	bus := &i2ctest.Playback{DontPanic: true, Ops: ops}
	var sleeps bustest.Sleeps
	d, err := NewI2C(context.Background(), bus, Addr, &Opts{Sleep: sleeps.Sleep})
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Sense(context.Background())
	if err == nil || !strings.Contains(err.Error(), "crc mismatch in word 1") {
		t.Errorf("Sense = %v, want a crc error for word 1", err)
	}
	if errors.Is(err, sensors.ErrImplausible) {
		t.Error("a crc error is a bus fault, not an implausible value")
	}
}

func TestNoAnswer(t *testing.T) {
	nack := errors.New("i2c: remote i/o error")
	_, err := NewI2C(context.Background(), bustest.BrokenBus{Err: nack}, Addr, &Opts{Sleep: (&bustest.Sleeps{}).Sleep})
	if !errors.Is(err, nack) || !strings.Contains(err.Error(), "scd4x at 0x62 on broken: no answer") {
		t.Errorf("NewI2C = %v", err)
	}
	// A short read during init: the serial number has 6 bytes, not 9.
	ops := initOps()
	ops[2].R = ops[2].R[:6]
	_, err = NewI2C(context.Background(), &i2ctest.Playback{DontPanic: true, Ops: ops}, Addr, &Opts{Sleep: (&bustest.Sleeps{}).Sleep})
	if err == nil || !strings.Contains(err.Error(), "serial number") {
		t.Errorf("short read: %v", err)
	}
}

func TestWaitForMeasurementHonoursContext(t *testing.T) {
	ops := append(initOps(), readyOps(0x8000)...)
	bus := &i2ctest.Playback{DontPanic: true, Ops: ops}
	var sleeps []time.Duration
	pollExpires := func(ctx context.Context, d time.Duration) error {
		sleeps = append(sleeps, d)
		if d == 250*time.Millisecond {
			return context.DeadlineExceeded
		}
		return nil
	}
	clock := warmClock()
	d, err := NewI2C(context.Background(), bus, Addr, &Opts{Sleep: pollExpires, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	clock.warm()
	_, err = d.Sense(context.Background())
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "every 5s") {
		t.Errorf("Sense = %v, want DeadlineExceeded with the measurement period", err)
	}
	bustest.AllUsed(t, bus)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.Sense(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("done context: %v", err)
	}
	if _, err := NewI2C(ctx, &i2ctest.Playback{DontPanic: true, Ops: initOps()}, Addr, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("NewI2C with a done context: %v", err)
	}
}

// Datasheet section 3.5 (start_periodic_measurement): the first result is
// ready 5 s after the start. Until then Sense says so at once instead of
// polling into the read's timeout; after it, a not-ready sensor is waited
// for as before.
func TestWarmUpIsNotAWait(t *testing.T) {
	ops := append(initOps(), readyOps(0x8000)...)
	bus := &i2ctest.Playback{DontPanic: true, Ops: ops}
	var sleeps bustest.Sleeps
	clock := warmClock()
	d, err := NewI2C(context.Background(), bus, Addr, &Opts{Sleep: sleeps.Sleep, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if d.Spacing() != 5*time.Second {
		t.Errorf("Spacing = %v, want the datasheet's 5 s", d.Spacing())
	}
	clock.t = clock.t.Add(4 * time.Second)
	before := len(sleeps.Waits())
	_, err = d.Sense(context.Background())
	if !errors.Is(err, sensors.ErrWarmingUp) || errors.Is(err, sensors.ErrImplausible) {
		t.Fatalf("Sense 4 s after the start = %v, want ErrWarmingUp", err)
	}
	if polls := sleeps.Waits()[before:]; slices.Contains(polls, 250*time.Millisecond) {
		t.Errorf("polled during the warm-up: %v", polls)
	}
	bustest.AllUsed(t, bus)
}

// Datasheet section 3.5: the first measurement is ready 5 s after
// start_periodic_measurement. A read 4 s after the start says it comes 1 s
// from now, so that the Runner reads right then; one past the 5 s, while
// the chip's clock may still be late, says to ask again after a poll.
func TestWarmUpSaysWhenTheFirstMeasurementComes(t *testing.T) {
	ops := append(initOps(), readyOps(0x8000)...)
	ops = append(ops, readyOps(0x8000)...)
	bus := &i2ctest.Playback{DontPanic: true, Ops: ops}
	var sleeps bustest.Sleeps
	clock := warmClock()
	d, err := NewI2C(context.Background(), bus, Addr, &Opts{Sleep: sleeps.Sleep, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ after, readyIn time.Duration }{
		{4 * time.Second, time.Second},
		{5100 * time.Millisecond, 250 * time.Millisecond},
	} {
		clock.t = warmClock().t.Add(tc.after)
		_, err = d.Sense(context.Background())
		var wu *sensors.WarmingUp
		if !errors.As(err, &wu) || wu.ReadyIn != tc.readyIn || !errors.Is(err, sensors.ErrWarmingUp) {
			t.Errorf("Sense %v after the start = %v, want a warm-up ready in %v", tc.after, err, tc.readyIn)
		}
	}
	bustest.AllUsed(t, bus)
}
