package bh1750

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/edgepub/edgepub/sensors/internal/bustest"
	"periph.io/x/conn/v3/i2c/i2ctest"
)

func TestSenseDatasheetExample(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Datasheet "Measurement sequence example": high byte 1000_0011, low byte
		// 1001_0000 is (2^15+2^9+2^8+2^7+2^4)/1.2 ≈ 28067 lx.
		bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
			{Addr: 0x23, W: []byte{0x00}},
			{Addr: 0x23, W: []byte{0x20}},
			{Addr: 0x23, R: []byte{0x83, 0x90}},
		}}
		timed := &bustest.Timed{Bus: bus}
		d, err := NewI2C(timed, AddrLow, nil)
		if err != nil {
			t.Fatal(err)
		}
		v, err := d.Sense(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if got := v[Field]; math.Abs(got-28066.67) > 0.01 {
			t.Errorf("got %v lx, want 28066.67", got)
		}
		if !slices.Equal(timed.Waits(), []time.Duration{180 * time.Millisecond}) {
			t.Errorf("waited %v, want 180ms", timed.Waits())
		}
		bustest.AllUsed(t, bus)
	})
}

func TestResolutions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, c := range []struct {
			res    Resolution
			opcode byte
			wait   time.Duration
			want   float64
		}{
			{High2, 0x21, 180 * time.Millisecond, 500},
			{Low, 0x23, 24 * time.Millisecond, 1000},
		} {
			bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
				{Addr: 0x5c, W: []byte{0x00}},
				{Addr: 0x5c, W: []byte{c.opcode}},
				{Addr: 0x5c, R: []byte{0x04, 0xb0}}, // 1200 counts
			}}
			timed := &bustest.Timed{Bus: bus}
			d, err := NewI2C(timed, AddrHigh, &Opts{Resolution: c.res})
			if err != nil {
				t.Fatal(err)
			}
			v, err := d.Sense(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if v[Field] != c.want || !slices.Equal(timed.Waits(), []time.Duration{c.wait}) {
				t.Errorf("resolution %d: %v lx after %v, want %v after %v", c.res, v[Field], timed.Waits(), c.want, c.wait)
			}
			bustest.AllUsed(t, bus)
		}
	})
}

func TestErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nack := errors.New("i2c: remote i/o error")
		_, err := NewI2C(bustest.BrokenBus{Err: nack}, AddrLow, nil)
		if !errors.Is(err, nack) || !strings.Contains(err.Error(), "bh1750 at 0x23 on broken") {
			t.Errorf("NewI2C on a silent bus = %v", err)
		}
		if _, err := NewI2C(bustest.BrokenBus{Err: nack}, 0x40, nil); err == nil || !strings.Contains(err.Error(), "0x23") {
			t.Errorf("NewI2C at 0x40 = %v", err)
		}
		if _, err := NewI2C(bustest.BrokenBus{Err: nack}, AddrLow, &Opts{Resolution: 9}); err == nil {
			t.Error("accepted an unknown resolution")
		}

		// Short read: the bus delivers one byte where two are due.
		bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
			{Addr: 0x23, W: []byte{0x00}},
			{Addr: 0x23, W: []byte{0x20}},
			{Addr: 0x23, R: []byte{0x83}},
		}}
		d, err := NewI2C(bus, AddrLow, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Sense(context.Background()); err == nil || !strings.Contains(err.Error(), "reading the measurement") {
			t.Errorf("short read: %v", err)
		}
	})
}

func TestContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
			{Addr: 0x23, W: []byte{0x00}},
			{Addr: 0x23, W: []byte{0x20}},
		}}
		d, err := NewI2C(bus, AddrLow, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := d.Sense(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("done context: %v", err)
		}
		// The context ends once the measurement has started: the timer must
		// give up at once rather than wait 180 ms.
		ctx, cancel = context.WithCancel(context.Background())
		d.dev.Bus = bustest.CancelAfterTx{Playback: bus, Cancel: cancel}
		start := time.Now()
		if _, err := d.Sense(ctx); !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "waiting for the measurement") {
			t.Errorf("cancelled during the wait: %v", err)
		}
		if took := time.Since(start); took != 0 {
			t.Errorf("gave up %v after the cancel, want at once", took)
		}
		bustest.AllUsed(t, bus)
	})
}
