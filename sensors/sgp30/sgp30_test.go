package sgp30

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgepub/edgepub/sensors"
	"github.com/edgepub/edgepub/sensors/internal/bustest"
	"github.com/edgepub/edgepub/sensors/internal/sensirion"
	"periph.io/x/conn/v3/i2c/i2ctest"
)

// initOps is NewI2C talking to an SGP30 with feature set 0x0022.
func initOps() []i2ctest.IO {
	return []i2ctest.IO{
		{Addr: Addr, W: []byte{0x20, 0x2f}},
		{Addr: Addr, R: sensirion.EncodeWords(0x0022)},
		{Addr: Addr, W: []byte{0x20, 0x03}},
	}
}

func measureOps(eco2, tvoc uint16) []i2ctest.IO {
	return []i2ctest.IO{{Addr: Addr, W: []byte{0x20, 0x08}}, {Addr: Addr, R: sensirion.EncodeWords(eco2, tvoc)}}
}

// fakeClock is a clock the test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

func open(t *testing.T, ops []i2ctest.IO) (*Dev, *i2ctest.Playback, *fakeClock, *bustest.Sleeps) {
	t.Helper()
	bus := &i2ctest.Playback{DontPanic: true, Ops: append(initOps(), ops...)}
	clock := &fakeClock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	sleeps := &bustest.Sleeps{}
	d, err := NewI2C(context.Background(), bus, Addr, &Opts{Now: clock.Now, Sleep: sleeps.Sleep})
	if err != nil {
		t.Fatal(err)
	}
	return d, bus, clock, sleeps
}

func TestWarmUpThenMeasurements(t *testing.T) {
	ops := append(measureOps(400, 0), measureOps(400, 0)...)
	ops = append(ops, measureOps(452, 13)...)
	d, bus, clock, sleeps := open(t, ops)
	if d.Version() != 0x22 {
		t.Errorf("version %#x", d.Version())
	}
	clock.t = clock.t.Add(time.Second)
	// Datasheet section 1.2: fixed 400 ppm, 0 ppb for 15 s after
	// Init_air_quality. Not a reading, and not a failure either.
	if _, err := d.Sense(context.Background()); !errors.Is(err, sensors.ErrWarmingUp) || errors.Is(err, sensors.ErrImplausible) {
		t.Errorf("during warm-up: %v, want ErrWarmingUp", err)
	}
	if d.Spacing() != time.Second {
		t.Errorf("Spacing = %v, want the datasheet's 1 s cadence", d.Spacing())
	}
	clock.t = clock.t.Add(15 * time.Second)
	v, err := d.Sense(context.Background())
	if err != nil || v[FieldECO2] != 400 || v[FieldTVOC] != 0 {
		t.Errorf("clean air after warm-up: %v, %v", v, err)
	}
	v, err = d.Sense(context.Background())
	if err != nil || v[FieldECO2] != 452 || v[FieldTVOC] != 13 || len(v) != 2 {
		t.Errorf("got %v, %v; want 452 ppm, 13 ppb", v, err)
	}
	// The third measurement comes on the same (fake) instant as the
	// second, so the driver first waits out the 1 s cadence.
	want := []time.Duration{10 * time.Millisecond, 10 * time.Millisecond, 12 * time.Millisecond, 12 * time.Millisecond, time.Second, 12 * time.Millisecond}
	if !slices.Equal(sleeps.Waits(), want) {
		t.Errorf("waited %v, want %v", sleeps.Waits(), want)
	}
	bustest.AllUsed(t, bus)
}

func TestOutOfRangeIsImplausible(t *testing.T) {
	for _, c := range [][2]uint16{{399, 0}, {60001, 5}, {500, 60001}} {
		d, bus, clock, _ := open(t, measureOps(c[0], c[1]))
		clock.t = clock.t.Add(time.Minute)
		if _, err := d.Sense(context.Background()); !errors.Is(err, sensors.ErrImplausible) {
			t.Errorf("%v: %v, want ErrImplausible", c, err)
		}
		bustest.AllUsed(t, bus)
	}
}

func TestCRCError(t *testing.T) {
	m := measureOps(452, 13)
	m[1].R[2] ^= 0xff
	d, bus, _, _ := open(t, m)
	_, err := d.Sense(context.Background())
	if err == nil || !strings.Contains(err.Error(), "crc mismatch in word 0") || errors.Is(err, sensors.ErrImplausible) {
		t.Errorf("Sense = %v, want a crc error", err)
	}
	bustest.AllUsed(t, bus)
}

func TestNotAnSGP30(t *testing.T) {
	bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
		{Addr: Addr, W: []byte{0x20, 0x2f}},
		{Addr: Addr, R: sensirion.EncodeWords(0x1006)}, // an SGPC3
	}}
	_, err := NewI2C(context.Background(), bus, Addr, &Opts{Sleep: func(context.Context, time.Duration) error { return nil }})
	if err == nil || !strings.Contains(err.Error(), "product type 1") {
		t.Errorf("NewI2C = %v", err)
	}
	nack := errors.New("i2c: remote i/o error")
	_, err = NewI2C(context.Background(), bustest.BrokenBus{Err: nack}, Addr, nil)
	if !errors.Is(err, nack) || !strings.Contains(err.Error(), "sgp30 at 0x58 on broken") {
		t.Errorf("silent bus: %v", err)
	}
}

func TestContext(t *testing.T) {
	d, bus, _, _ := open(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.Sense(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("done context: %v", err)
	}
	if err := DefaultOpts().Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("default Sleep with a done context: %v", err)
	}
	if _, err := NewI2C(ctx, &i2ctest.Playback{DontPanic: true, Ops: initOps()}, Addr, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("NewI2C with a done context: %v", err)
	}
	bustest.AllUsed(t, bus)
}
