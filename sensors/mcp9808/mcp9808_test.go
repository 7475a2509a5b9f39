package mcp9808

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

// NewI2C's traffic at 0x18 with the finest resolution: the two id reads,
// then periph writing the resolution register (0x08 ← 0x03) and the
// configuration register (0x01 ← 0x0000, continuous conversion).
var initOps = []i2ctest.IO{
	{Addr: 0x18, W: []byte{0x06}, R: []byte{0x00, 0x54}},
	{Addr: 0x18, W: []byte{0x07}, R: []byte{0x04, 0x00}},
	{Addr: 0x18, W: []byte{0x08, 0x03}},
	{Addr: 0x18, W: []byte{0x01, 0x00, 0x00}},
}

// readTemperature reads the ambient temperature register 0x05. The
// datasheet's conversion: T = (upper & 0x0F)·16 + lower/16, minus 256 when
// the sign bit (0x10) is set; bits 7..5 of the upper byte are alert flags.
func readTemperature(upper, lower byte) i2ctest.IO {
	return i2ctest.IO{Addr: 0x18, W: []byte{0x05}, R: []byte{upper, lower}}
}

// newDev opens the MCP9808 at 0x18 on bus, through a Timed bus that notes
// the driver's waits between transfers; tests call it in a synctest bubble.
func newDev(t *testing.T, bus *i2ctest.Playback) (*Dev, *bustest.Timed) {
	t.Helper()
	timed := &bustest.Timed{Bus: bus}
	d, err := NewI2C(timed, DefaultAddr, nil)
	if err != nil {
		t.Fatalf("NewI2C: %v", err)
	}
	return d, timed
}

func TestSenseDecodesDatasheetConversion(t *testing.T) {
	for _, tc := range []struct {
		name         string
		upper, lower byte
		want         float64
	}{
		// 0x0194 = 1·16 + 0x94/16 = 25.25 °C; the set alert flags (0xC0)
		// must not change the value.
		{"positive with alert flags", 0xC1, 0x94, 25.25},
		// Sign bit set: 0xF·16 + 0xF0/16 - 256 = -1 °C.
		{"negative", 0x1F, 0xF0, -1},
		{"finest step", 0x00, 0x01, 0.0625},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				bus := &i2ctest.Playback{Ops: slices.Concat(initOps, []i2ctest.IO{readTemperature(tc.upper, tc.lower)}), DontPanic: true}
				d, _ := newDev(t, bus)
				v, err := d.Sense(context.Background())
				if err != nil {
					t.Fatalf("Sense: %v", err)
				}
				if len(v) != 1 || math.Abs(v["temperature_c"]-tc.want) > 1e-9 {
					t.Errorf("Sense() = %v, want temperature_c %v", v, tc.want)
				}
				bustest.AllUsed(t, bus)
			})
		})
	}
}

func TestFirstSenseWaitsOneConversion(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := &i2ctest.Playback{Ops: slices.Concat(initOps, []i2ctest.IO{readTemperature(0x01, 0x94), readTemperature(0x01, 0x95)}), DontPanic: true}
		d, timed := newDev(t, bus)
		for range 2 {
			if _, err := d.Sense(context.Background()); err != nil {
				t.Fatalf("Sense: %v", err)
			}
		}
		if !slices.Equal(timed.Waits(), []time.Duration{250 * time.Millisecond}) {
			t.Errorf("waits = %v, want a single 250ms wait before the first read", timed.Waits())
		}
		bustest.AllUsed(t, bus)
	})
}

func TestResolutionSetsRegisterAndWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, tc := range []struct {
			res  Resolution
			reg  byte
			wait time.Duration
		}{
			{SixteenthDegree, 0x03, 250 * time.Millisecond},
			{EighthDegree, 0x02, 130 * time.Millisecond},
			{QuarterDegree, 0x01, 65 * time.Millisecond},
			{HalfDegree, 0x00, 30 * time.Millisecond},
		} {
			setup := slices.Clone(initOps)
			setup[2] = i2ctest.IO{Addr: 0x18, W: []byte{0x08, tc.reg}}
			bus := &i2ctest.Playback{Ops: slices.Concat(setup, []i2ctest.IO{readTemperature(0x01, 0x90)}), DontPanic: true}
			timed := &bustest.Timed{Bus: bus}
			d, err := NewI2C(timed, DefaultAddr, &Opts{Resolution: tc.res})
			if err != nil {
				t.Fatalf("NewI2C(resolution %d): %v", tc.res, err)
			}
			if _, err := d.Sense(context.Background()); err != nil {
				t.Fatalf("Sense: %v", err)
			}
			if !slices.Equal(timed.Waits(), []time.Duration{tc.wait}) {
				t.Errorf("resolution %d: waits = %v, want %v", tc.res, timed.Waits(), tc.wait)
			}
			bustest.AllUsed(t, bus)
		}
	})
}

func TestHaltShutsDownAndSenseWakesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := &i2ctest.Playback{Ops: slices.Concat(initOps, []i2ctest.IO{
			readTemperature(0x01, 0x94),
			{Addr: 0x18, W: []byte{0x01, 0x01, 0x00}}, // shutdown bit
			{Addr: 0x18, W: []byte{0x01, 0x00, 0x00}}, // awake again
			readTemperature(0x01, 0x98),
		}), DontPanic: true}
		d, timed := newDev(t, bus)
		if _, err := d.Sense(context.Background()); err != nil {
			t.Fatalf("Sense: %v", err)
		}
		if err := d.Halt(); err != nil {
			t.Fatalf("Halt: %v", err)
		}
		v, err := d.Sense(context.Background())
		if err != nil {
			t.Fatalf("Sense after Halt: %v", err)
		}
		if v["temperature_c"] != 25.5 {
			t.Errorf("temperature_c = %v, want 25.5", v["temperature_c"])
		}
		if want := []time.Duration{250 * time.Millisecond, 250 * time.Millisecond}; !slices.Equal(timed.Waits(), want) {
			t.Errorf("waits = %v, want %v: one after NewI2C and one after the wake-up", timed.Waits(), want)
		}
		bustest.AllUsed(t, bus)
	})
}

func TestSenseRejectsImplausible(t *testing.T) {
	for _, tc := range []struct {
		name         string
		upper, lower byte
		text         string
	}{
		{"too cold", 0x1C, 0x00, "-64.0000 °C"}, // 0xC00/16 - 256
		{"too hot", 0x09, 0x60, "150.0000 °C"},  // 0x960/16
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				bus := &i2ctest.Playback{Ops: slices.Concat(initOps, []i2ctest.IO{readTemperature(tc.upper, tc.lower)}), DontPanic: true}
				d, _ := newDev(t, bus)
				v, err := d.Sense(context.Background())
				if !errors.Is(err, sensors.ErrImplausible) || !strings.Contains(err.Error(), tc.text) {
					t.Fatalf("Sense() = %v, %v; want ErrImplausible mentioning %q", v, err, tc.text)
				}
				bustest.AllUsed(t, bus)
			})
		})
	}
}

func TestSenseReportsBusErrors(t *testing.T) {
	errNACK := errors.New("remote I/O error")
	t.Run("NACK", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			bus := &bustest.FailingBus{Playback: i2ctest.Playback{Ops: initOps, DontPanic: true}, Err: errNACK}
			d, err := NewI2C(bus, DefaultAddr, nil)
			if err != nil {
				t.Fatalf("NewI2C: %v", err)
			}
			// periph replaces the cause with its own error, so only the text
			// "failed to read ambient temperature" reaches us.
			if _, err := d.Sense(context.Background()); err == nil || !strings.HasPrefix(err.Error(), "mcp9808 at 0x18 on playback: read: failed to read") {
				t.Fatalf("Sense error = %v, want a read failure naming the device", err)
			}
			bustest.AllUsed(t, &bus.Playback)
		})
	})
	t.Run("short read", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			short := i2ctest.IO{Addr: 0x18, W: []byte{0x05}, R: []byte{0x01}}
			bus := &i2ctest.Playback{Ops: slices.Concat(initOps, []i2ctest.IO{short}), DontPanic: true}
			d, _ := newDev(t, bus)
			if _, err := d.Sense(context.Background()); err == nil {
				t.Fatal("Sense accepted a one-byte read")
			}
			if bus.Count != len(bus.Ops)-1 {
				t.Errorf("used %d of %d transactions, want all but the short read", bus.Count, len(bus.Ops))
			}
		})
	})
	t.Run("NACK on halt", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			bus := &bustest.FailingBus{Playback: i2ctest.Playback{Ops: initOps, DontPanic: true}, Err: errNACK}
			d, err := NewI2C(bus, DefaultAddr, nil)
			if err != nil {
				t.Fatalf("NewI2C: %v", err)
			}
			if err := d.Halt(); !errors.Is(err, errNACK) {
				t.Fatalf("Halt error = %v, want the NACK", err)
			}
		})
	})
}

func TestSenseHonoursContext(t *testing.T) {
	t.Run("cancelled before", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			bus := &i2ctest.Playback{Ops: initOps, DontPanic: true}
			d, _ := newDev(t, bus)
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			start := time.Now()
			if _, err := d.Sense(ctx); !errors.Is(err, context.Canceled) {
				t.Fatalf("Sense error = %v, want context.Canceled", err)
			}
			if took := time.Since(start); took != 0 {
				t.Errorf("waited %v before noticing the cancelled context", took)
			}
			bustest.AllUsed(t, bus)
		})
	})
	t.Run("deadline during the first conversion", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			bus := &i2ctest.Playback{Ops: slices.Concat(initOps, []i2ctest.IO{readTemperature(0x01, 0x94)}), DontPanic: true}
			d, _ := newDev(t, bus)
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			start := time.Now()
			if _, err := d.Sense(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Sense error = %v, want context.DeadlineExceeded", err)
			}
			if took := time.Since(start); took != 100*time.Millisecond {
				t.Errorf("Sense returned after %v, want 100ms: at the deadline", took)
			}
			// The next read must still wait: the conversion was never awaited.
			start = time.Now()
			if _, err := d.Sense(context.Background()); err != nil {
				t.Fatalf("Sense: %v", err)
			}
			if took := time.Since(start); took != 250*time.Millisecond {
				t.Errorf("the next Sense took %v, want a full 250ms conversion", took)
			}
			bustest.AllUsed(t, bus)
		})
	})
}

func TestNewI2CRejects(t *testing.T) {
	errNACK := errors.New("remote I/O error")
	for _, tc := range []struct {
		name string
		ops  []i2ctest.IO
		addr uint16
		opts *Opts
		text string
	}{
		{"wrong address", nil, 0x20, nil, "0x18 to 0x1F"},
		{"unknown resolution", nil, 0x18, &Opts{Resolution: 4}, "unknown resolution"},
		{"other manufacturer", []i2ctest.IO{{Addr: 0x18, W: []byte{0x06}, R: []byte{0x00, 0x55}}}, 0x18, nil, "manufacturer id is 0x0055"},
		{"other Microchip sensor", []i2ctest.IO{
			{Addr: 0x18, W: []byte{0x06}, R: []byte{0x00, 0x54}},
			{Addr: 0x18, W: []byte{0x07}, R: []byte{0x05, 0x00}},
		}, 0x18, nil, "device id is 0x05"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				bus := &i2ctest.Playback{Ops: tc.ops, DontPanic: true}
				if _, err := NewI2C(bus, tc.addr, tc.opts); err == nil || !strings.Contains(err.Error(), tc.text) {
					t.Fatalf("NewI2C error = %v, want it to contain %q", err, tc.text)
				}
				bustest.AllUsed(t, bus)
			})
		})
	}
	t.Run("no device", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			bus := &bustest.FailingBus{Playback: i2ctest.Playback{DontPanic: true}, Err: errNACK}
			_, err := NewI2C(bus, 0x1A, nil)
			if !errors.Is(err, errNACK) || !strings.Contains(err.Error(), "mcp9808 at 0x1a on playback: read manufacturer id (is an MCP9808 connected there?)") {
				t.Fatalf("NewI2C error = %v, want the NACK and a hint", err)
			}
		})
	})
	t.Run("NACK while configuring", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			bus := &bustest.FailingBus{Playback: i2ctest.Playback{Ops: initOps[:2], DontPanic: true}, Err: errNACK}
			if _, err := NewI2C(bus, DefaultAddr, nil); err == nil || !strings.Contains(err.Error(), "set resolution and start") {
				t.Fatalf("NewI2C error = %v, want a configuration failure", err)
			}
			bustest.AllUsed(t, &bus.Playback)
		})
	})
}
