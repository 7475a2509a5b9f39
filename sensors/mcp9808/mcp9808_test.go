package mcp9808

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgepub/edgepub/sensors"
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

type recordedSleeps struct {
	mu     sync.Mutex
	waits  []time.Duration
	before func()
}

func (r *recordedSleeps) sleep(ctx context.Context, d time.Duration) error {
	r.mu.Lock()
	r.waits = append(r.waits, d)
	before := r.before
	r.mu.Unlock()
	if before != nil {
		before()
	}
	return ctx.Err()
}

// failingBus replays its ops and then fails every further transaction with
// err, like a sensor that stopped acknowledging.
type failingBus struct {
	i2ctest.Playback
	err error
}

func (b *failingBus) Tx(addr uint16, w, r []byte) error {
	b.Lock()
	exhausted := b.Count >= len(b.Ops)
	b.Unlock()
	if exhausted {
		return b.err
	}
	return b.Playback.Tx(addr, w, r)
}

func ops(parts ...[]i2ctest.IO) []i2ctest.IO {
	var all []i2ctest.IO
	for _, p := range parts {
		all = append(all, p...)
	}
	return all
}

func newDev(t *testing.T, bus *i2ctest.Playback) (*Dev, *recordedSleeps) {
	t.Helper()
	sleeps := &recordedSleeps{}
	d, err := NewI2C(bus, DefaultAddr, &Opts{Sleep: sleeps.sleep})
	if err != nil {
		t.Fatalf("NewI2C: %v", err)
	}
	return d, sleeps
}

func closeBus(t *testing.T, bus *i2ctest.Playback) {
	t.Helper()
	if err := bus.Close(); err != nil {
		t.Errorf("not every recorded transaction was used: %v", err)
	}
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
			bus := &i2ctest.Playback{Ops: ops(initOps, []i2ctest.IO{readTemperature(tc.upper, tc.lower)}), DontPanic: true}
			d, _ := newDev(t, bus)
			v, err := d.Sense(context.Background())
			if err != nil {
				t.Fatalf("Sense: %v", err)
			}
			if len(v) != 1 || math.Abs(v["temperature_c"]-tc.want) > 1e-9 {
				t.Errorf("Sense() = %v, want temperature_c %v", v, tc.want)
			}
			closeBus(t, bus)
		})
	}
}

func TestFirstSenseWaitsOneConversion(t *testing.T) {
	bus := &i2ctest.Playback{Ops: ops(initOps, []i2ctest.IO{readTemperature(0x01, 0x94), readTemperature(0x01, 0x95)}), DontPanic: true}
	d, sleeps := newDev(t, bus)
	for range 2 {
		if _, err := d.Sense(context.Background()); err != nil {
			t.Fatalf("Sense: %v", err)
		}
	}
	if len(sleeps.waits) != 1 || sleeps.waits[0] != 250*time.Millisecond {
		t.Errorf("waits = %v, want a single 250ms wait before the first read", sleeps.waits)
	}
	closeBus(t, bus)
}

func TestResolutionSetsRegisterAndWait(t *testing.T) {
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
		setup := ops(initOps)
		setup[2] = i2ctest.IO{Addr: 0x18, W: []byte{0x08, tc.reg}}
		bus := &i2ctest.Playback{Ops: ops(setup, []i2ctest.IO{readTemperature(0x01, 0x90)}), DontPanic: true}
		sleeps := &recordedSleeps{}
		d, err := NewI2C(bus, DefaultAddr, &Opts{Resolution: tc.res, Sleep: sleeps.sleep})
		if err != nil {
			t.Fatalf("NewI2C(resolution %d): %v", tc.res, err)
		}
		if _, err := d.Sense(context.Background()); err != nil {
			t.Fatalf("Sense: %v", err)
		}
		if len(sleeps.waits) != 1 || sleeps.waits[0] != tc.wait {
			t.Errorf("resolution %d: waits = %v, want %v", tc.res, sleeps.waits, tc.wait)
		}
		closeBus(t, bus)
	}
}

func TestHaltShutsDownAndSenseWakesUp(t *testing.T) {
	bus := &i2ctest.Playback{Ops: ops(initOps, []i2ctest.IO{
		readTemperature(0x01, 0x94),
		{Addr: 0x18, W: []byte{0x01, 0x01, 0x00}}, // shutdown bit
		{Addr: 0x18, W: []byte{0x01, 0x00, 0x00}}, // awake again
		readTemperature(0x01, 0x98),
	}), DontPanic: true}
	d, sleeps := newDev(t, bus)
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
	if len(sleeps.waits) != 2 {
		t.Errorf("waits = %v, want one after NewI2C and one after the wake-up", sleeps.waits)
	}
	closeBus(t, bus)
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
			bus := &i2ctest.Playback{Ops: ops(initOps, []i2ctest.IO{readTemperature(tc.upper, tc.lower)}), DontPanic: true}
			d, _ := newDev(t, bus)
			v, err := d.Sense(context.Background())
			if !errors.Is(err, sensors.ErrImplausible) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("Sense() = %v, %v; want ErrImplausible mentioning %q", v, err, tc.text)
			}
			closeBus(t, bus)
		})
	}
}

func TestSenseReportsBusErrors(t *testing.T) {
	errNACK := errors.New("remote I/O error")
	t.Run("NACK", func(t *testing.T) {
		bus := &failingBus{Playback: i2ctest.Playback{Ops: initOps, DontPanic: true}, err: errNACK}
		d, err := NewI2C(bus, DefaultAddr, &Opts{Sleep: (&recordedSleeps{}).sleep})
		if err != nil {
			t.Fatalf("NewI2C: %v", err)
		}
		// periph replaces the cause with its own error, so only the text
		// "failed to read ambient temperature" reaches us.
		if _, err := d.Sense(context.Background()); err == nil || !strings.HasPrefix(err.Error(), "mcp9808 at 0x18 on playback: read: failed to read") {
			t.Fatalf("Sense error = %v, want a read failure naming the device", err)
		}
		closeBus(t, &bus.Playback)
	})
	t.Run("short read", func(t *testing.T) {
		short := i2ctest.IO{Addr: 0x18, W: []byte{0x05}, R: []byte{0x01}}
		bus := &i2ctest.Playback{Ops: ops(initOps, []i2ctest.IO{short}), DontPanic: true}
		d, _ := newDev(t, bus)
		if _, err := d.Sense(context.Background()); err == nil {
			t.Fatal("Sense accepted a one-byte read")
		}
		if bus.Count != len(bus.Ops)-1 {
			t.Errorf("used %d of %d transactions, want all but the short read", bus.Count, len(bus.Ops))
		}
	})
	t.Run("NACK on halt", func(t *testing.T) {
		bus := &failingBus{Playback: i2ctest.Playback{Ops: initOps, DontPanic: true}, err: errNACK}
		d, err := NewI2C(bus, DefaultAddr, &Opts{Sleep: (&recordedSleeps{}).sleep})
		if err != nil {
			t.Fatalf("NewI2C: %v", err)
		}
		if err := d.Halt(); !errors.Is(err, errNACK) {
			t.Fatalf("Halt error = %v, want the NACK", err)
		}
	})
}

func TestSenseHonoursContext(t *testing.T) {
	t.Run("cancelled before", func(t *testing.T) {
		bus := &i2ctest.Playback{Ops: initOps, DontPanic: true}
		d, sleeps := newDev(t, bus)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := d.Sense(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Sense error = %v, want context.Canceled", err)
		}
		if len(sleeps.waits) != 0 {
			t.Errorf("waited %v before noticing the cancelled context", sleeps.waits)
		}
		closeBus(t, bus)
	})
	t.Run("cancelled during the first conversion", func(t *testing.T) {
		bus := &i2ctest.Playback{Ops: ops(initOps, []i2ctest.IO{readTemperature(0x01, 0x94)}), DontPanic: true}
		d, sleeps := newDev(t, bus)
		ctx, cancel := context.WithCancel(context.Background())
		sleeps.before = cancel
		if _, err := d.Sense(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Sense error = %v, want context.Canceled", err)
		}
		// The next read must still wait: the conversion was never awaited.
		sleeps.before = nil
		if _, err := d.Sense(context.Background()); err != nil {
			t.Fatalf("Sense: %v", err)
		}
		if len(sleeps.waits) != 2 {
			t.Errorf("waits = %v, want the interrupted wait and a full one", sleeps.waits)
		}
		closeBus(t, bus)
	})
	t.Run("real timer stops early", func(t *testing.T) {
		// nil opts: the driver's own timer, which must give up at once.
		d, err := NewI2C(&i2ctest.Playback{Ops: initOps, DontPanic: true}, DefaultAddr, nil)
		if err != nil {
			t.Fatalf("NewI2C: %v", err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := d.opts.Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
			t.Fatalf("default Sleep = %v, want context.Canceled", err)
		}
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
			bus := &i2ctest.Playback{Ops: tc.ops, DontPanic: true}
			if _, err := NewI2C(bus, tc.addr, tc.opts); err == nil || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("NewI2C error = %v, want it to contain %q", err, tc.text)
			}
			closeBus(t, bus)
		})
	}
	t.Run("no device", func(t *testing.T) {
		bus := &failingBus{Playback: i2ctest.Playback{DontPanic: true}, err: errNACK}
		_, err := NewI2C(bus, 0x1A, nil)
		if !errors.Is(err, errNACK) || !strings.Contains(err.Error(), "mcp9808 at 0x1a on playback: read manufacturer id (is an MCP9808 connected there?)") {
			t.Fatalf("NewI2C error = %v, want the NACK and a hint", err)
		}
	})
	t.Run("NACK while configuring", func(t *testing.T) {
		bus := &failingBus{Playback: i2ctest.Playback{Ops: initOps[:2], DontPanic: true}, err: errNACK}
		if _, err := NewI2C(bus, DefaultAddr, nil); err == nil || !strings.Contains(err.Error(), "set resolution and start") {
			t.Fatalf("NewI2C error = %v, want a configuration failure", err)
		}
		closeBus(t, &bus.Playback)
	})
}
