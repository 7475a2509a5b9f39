package sgp30

import (
	"context"
	"errors"
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

// open starts the SGP30 on a playback of its start-up and ops, through a
// Timed bus that notes the driver's waits between transfers; tests call it
// in a synctest bubble and move the clock with time.Sleep.
func open(t *testing.T, ops []i2ctest.IO) (*Dev, *i2ctest.Playback, *bustest.Timed) {
	t.Helper()
	bus := &i2ctest.Playback{DontPanic: true, Ops: append(initOps(), ops...)}
	timed := &bustest.Timed{Bus: bus}
	d, err := NewI2C(context.Background(), timed, Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	return d, bus, timed
}

func TestWarmUpThenMeasurements(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ops := append(measureOps(400, 0), measureOps(400, 0)...)
		ops = append(ops, measureOps(452, 13)...)
		d, bus, timed := open(t, ops)
		if d.Version() != 0x22 {
			t.Errorf("version %#x", d.Version())
		}
		// Datasheet table 10: Init_air_quality takes at most 10 ms.
		if w := timed.SinceLast(); w != 10*time.Millisecond {
			t.Errorf("NewI2C returned %v after Init_air_quality, want 10ms", w)
		}
		// The first measurement ends 1 ms before the 15 s are up.
		time.Sleep(15*time.Second - 13*time.Millisecond)
		// Datasheet section 1.2: fixed 400 ppm, 0 ppb for 15 s after
		// Init_air_quality. Not a reading, and not a failure either.
		if _, err := d.Sense(context.Background()); !errors.Is(err, sensors.ErrWarmingUp) || errors.Is(err, sensors.ErrImplausible) {
			t.Errorf("1 ms before the end of the warm-up: %v, want ErrWarmingUp", err)
		}
		if d.Spacing() != time.Second {
			t.Errorf("Spacing = %v, want the datasheet's 1 s cadence", d.Spacing())
		}
		time.Sleep(time.Second)
		v, err := d.Sense(context.Background())
		if err != nil || v[FieldECO2] != 400 || v[FieldTVOC] != 0 {
			t.Errorf("clean air after warm-up: %v, %v", v, err)
		}
		v, err = d.Sense(context.Background())
		if err != nil || v[FieldECO2] != 452 || v[FieldTVOC] != 13 || len(v) != 2 {
			t.Errorf("got %v, %v; want 452 ppm, 13 ppb", v, err)
		}
		// Datasheet table 10: get_feature_set 10 ms, Init_air_quality 10 ms,
		// Measure_air_quality 12 ms. The third measurement is asked for right
		// after the second, so the driver first waits out the rest of the 1 s
		// cadence: its command goes 1 s after the second's.
		want := []time.Duration{
			10 * time.Millisecond,                                      // feature set
			15*time.Second - 3*time.Millisecond, 12 * time.Millisecond, // init, the test's wait; first measurement
			time.Second, 12 * time.Millisecond, // the test's wait; second measurement
			988 * time.Millisecond, 12 * time.Millisecond, // rest of the cadence; third
		}
		if !slices.Equal(timed.Waits(), want) {
			t.Errorf("waited %v between transfers, want %v", timed.Waits(), want)
		}
		bustest.AllUsed(t, bus)
	})
}

func TestOutOfRangeIsImplausible(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, c := range [][2]uint16{{399, 0}, {60001, 5}, {500, 60001}} {
			d, bus, _ := open(t, measureOps(c[0], c[1]))
			time.Sleep(time.Minute)
			if _, err := d.Sense(context.Background()); !errors.Is(err, sensors.ErrImplausible) {
				t.Errorf("%v: %v, want ErrImplausible", c, err)
			}
			bustest.AllUsed(t, bus)
		}
	})
}

func TestCRCError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := measureOps(452, 13)
		m[1].R[2] ^= 0xff
		d, bus, _ := open(t, m)
		_, err := d.Sense(context.Background())
		if err == nil || !strings.Contains(err.Error(), "crc mismatch in word 0") || errors.Is(err, sensors.ErrImplausible) {
			t.Errorf("Sense = %v, want a crc error", err)
		}
		bustest.AllUsed(t, bus)
	})
}

func TestNotAnSGP30(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
			{Addr: Addr, W: []byte{0x20, 0x2f}},
			{Addr: Addr, R: sensirion.EncodeWords(0x1006)}, // an SGPC3
		}}
		_, err := NewI2C(context.Background(), bus, Addr, nil)
		if err == nil || !strings.Contains(err.Error(), "product type 1") {
			t.Errorf("NewI2C = %v", err)
		}
		nack := errors.New("i2c: remote i/o error")
		_, err = NewI2C(context.Background(), bustest.BrokenBus{Err: nack}, Addr, nil)
		if !errors.Is(err, nack) || !strings.Contains(err.Error(), "sgp30 at 0x58 on broken") {
			t.Errorf("silent bus: %v", err)
		}
	})
}

func TestContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, bus, _ := open(t, measureOps(400, 0)[:1])
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := d.Sense(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("done context: %v", err)
		}
		// A deadline 5 ms into the 12 ms measurement ends the wait then; the
		// result is never read.
		short, cancelShort := context.WithTimeout(context.Background(), 5*time.Millisecond)
		defer cancelShort()
		start := time.Now()
		if _, err := d.Sense(short); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("deadline during the measurement: %v", err)
		}
		if took := time.Since(start); took != 5*time.Millisecond {
			t.Errorf("Sense returned after %v, want 5ms: at the deadline", took)
		}
		if _, err := NewI2C(ctx, &i2ctest.Playback{DontPanic: true, Ops: initOps()}, Addr, nil); !errors.Is(err, context.Canceled) {
			t.Errorf("NewI2C with a done context: %v", err)
		}
		bustest.AllUsed(t, bus)
	})
}
