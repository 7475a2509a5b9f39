package ads1x15

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

const addr = 0x48

// probeOp is NewADS1x15 reading the power-on configuration.
var probeOp = i2ctest.IO{Addr: addr, W: []byte{0x01}, R: []byte{0x85, 0x83}}

// conversionOps is one single-shot conversion: start with cfg, poll the
// status once per entry of busy (true: still converting), read code.
func conversionOps(cfg uint16, code uint16, busy ...bool) []i2ctest.IO {
	ops := []i2ctest.IO{{Addr: addr, W: []byte{0x01, byte(cfg >> 8), byte(cfg)}}}
	for _, b := range append(busy, false) {
		status := cfg | 0x8000
		if b {
			status &^= 0x8000
		}
		ops = append(ops, i2ctest.IO{Addr: addr, W: []byte{0x01}, R: []byte{byte(status >> 8), byte(status)}})
	}
	return append(ops, i2ctest.IO{Addr: addr, W: []byte{0x00}, R: []byte{byte(code >> 8), byte(code)}})
}

func TestADS1115Defaults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// AIN0 against GND, ±4.096 V, single shot, 128 SPS, comparator off: 0xc383.
		ops := append([]i2ctest.IO{probeOp}, conversionOps(0xc383, 0x4000, true)...)
		bus := &i2ctest.Playback{DontPanic: true, Ops: ops}
		timed := &bustest.Timed{Bus: bus}
		d, err := NewADS1115(timed, addr, nil)
		if err != nil {
			t.Fatal(err)
		}
		v, err := d.Sense(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if v["ain0_v"] != 2.048 || len(v) != 1 {
			t.Errorf("got %v, want ain0_v 2.048", v)
		}
		// 1/128 s plus 10 % plus 50 µs, then a tenth of that for the late poll.
		want := []time.Duration{8643750 * time.Nanosecond, 864375 * time.Nanosecond}
		if !slices.Equal(timed.Waits(), want) {
			t.Errorf("waited %v, want %v", timed.Waits(), want)
		}
		bustest.AllUsed(t, bus)
	})
}

func TestADS1015ChannelsMapVoltsToQuantities(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// AIN0 at ±2.048 V, 1600 SPS: 0xc583; AIN3 at ±6.144 V: 0xf183.
		// ADS1015 codes are left-justified: 1000 LSB of 1 mV is 0x3e80.
		ops := []i2ctest.IO{probeOp}
		ops = append(ops, conversionOps(0xc583, 0x3e80)...)
		ops = append(ops, conversionOps(0xf183, 0x1900)...)
		bus := &i2ctest.Playback{DontPanic: true, Ops: ops}
		d, err := NewADS1015(bus, addr, &Opts{
			Channels: []Channel{
				{Input: 0, Field: "humidity_pct", Gain: 2, Scale: 100 / 3.3},
				{Input: 3, Field: "battery_v", Gain: 0.667, Scale: 2, Offset: 0.1},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		v, err := d.Sense(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(v["humidity_pct"]-30.303) > 0.001 || math.Abs(v["battery_v"]-2.5) > 1e-9 || len(v) != 2 {
			t.Errorf("got %v, want humidity_pct 30.303 (1 V) and battery_v 2.5 (1.2 V ×2 + 0.1)", v)
		}
		bustest.AllUsed(t, bus)
	})
}

func TestClippedInputIsImplausible(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, c := range []struct {
			open func(*i2ctest.Playback) (*Dev, error)
			cfg  uint16
			code uint16
		}{
			{func(b *i2ctest.Playback) (*Dev, error) {
				return NewADS1115(b, addr, nil)
			}, 0xc383, 0x7fff},
			{func(b *i2ctest.Playback) (*Dev, error) {
				return NewADS1115(b, addr, nil)
			}, 0xc383, 0x8000},
			{func(b *i2ctest.Playback) (*Dev, error) {
				return NewADS1015(b, addr, nil)
			}, 0xc383, 0x7ff0}, // 1600 SPS has the same DR bits as the ADS1115's 128,
		} {
			bus := &i2ctest.Playback{DontPanic: true, Ops: append([]i2ctest.IO{probeOp}, conversionOps(c.cfg, c.code)...)}
			d, err := c.open(bus)
			if err != nil {
				t.Fatal(err)
			}
			_, err = d.Sense(context.Background())
			if !errors.Is(err, sensors.ErrImplausible) || !strings.Contains(err.Error(), "AIN0") || !strings.Contains(err.Error(), "lower the gain") {
				t.Errorf("code %#04x: %v, want ErrImplausible for AIN0", c.code, err)
			}
			bustest.AllUsed(t, bus)
		}
	})
}

func TestOptionErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nack := errors.New("i2c: remote i/o error")
		for _, o := range []Opts{
			{Channels: []Channel{{Input: 4}}},
			{Channels: []Channel{{Input: 0}, {Input: 1, Field: "ain0_v"}}},
			{Channels: []Channel{{Gain: 3}}},
			{DataRate: 100},
		} {
			if _, err := NewADS1115(bustest.BrokenBus{Err: nack}, addr, &o); err == nil || errors.Is(err, nack) {
				t.Errorf("%+v: %v, want an option error before any transfer", o, err)
			}
		}
		if _, err := NewADS1015(bustest.BrokenBus{Err: nack}, addr, &Opts{DataRate: 860}); err == nil || !strings.Contains(err.Error(), "3300") {
			t.Errorf("ADS1015 at 860 SPS: %v", err)
		}
		if _, err := NewADS1115(bustest.BrokenBus{Err: nack}, 0x4c, nil); err == nil || !strings.Contains(err.Error(), "0x48..0x4b") {
			t.Errorf("address 0x4c: %v", err)
		}
		if _, err := NewADS1115(bustest.BrokenBus{Err: nack}, addr, nil); !errors.Is(err, nack) || !strings.Contains(err.Error(), "ads1115 at 0x48 on broken") {
			t.Errorf("silent bus: %v", err)
		}
	})
}

func TestConversionThatNeverEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		busy := make([]bool, pollAttempts)
		for i := range busy {
			busy[i] = true
		}
		ops := append([]i2ctest.IO{probeOp}, conversionOps(0xc383, 0, busy...)...)
		ops = ops[:len(ops)-2] // the chip never reports done, so nothing is read
		bus := &i2ctest.Playback{DontPanic: true, Ops: ops}
		d, err := NewADS1115(bus, addr, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Sense(context.Background()); err == nil || !strings.Contains(err.Error(), "never finished") {
			t.Errorf("Sense = %v", err)
		}
		bustest.AllUsed(t, bus)
	})
}

func TestContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ops := []i2ctest.IO{probeOp, {Addr: addr, W: []byte{0x01, 0xc3, 0x83}}}
		bus := &i2ctest.Playback{DontPanic: true, Ops: ops}
		d, err := NewADS1115(bus, addr, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := d.Sense(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("done context: %v", err)
		}
		// The context ends once the conversion has started: the timer must
		// give up at once rather than wait.
		ctx, cancel = context.WithCancel(context.Background())
		d.dev.Bus = bustest.CancelAfterTx{Playback: bus, Cancel: cancel}
		start := time.Now()
		if _, err := d.Sense(ctx); !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "waiting for the conversion") {
			t.Errorf("cancelled during the conversion: %v", err)
		}
		if took := time.Since(start); took != 0 {
			t.Errorf("gave up %v after the cancel, want at once", took)
		}
		bustest.AllUsed(t, bus)
	})
}
