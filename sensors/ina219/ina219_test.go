package ina219

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/edgepub/edgepub/sensors"
	"github.com/edgepub/edgepub/sensors/internal/bustest"
	"periph.io/x/conn/v3/i2c/i2ctest"
)

// configOps is NewI2C writing cfg and reading it back.
func configOps(addr uint16, cfg uint16) []i2ctest.IO {
	hi, lo := byte(cfg>>8), byte(cfg)
	return []i2ctest.IO{
		{Addr: addr, W: []byte{0x00, hi, lo}},
		{Addr: addr, W: []byte{0x00}, R: []byte{hi, lo}},
	}
}

func readOps(addr uint16, shunt, bus uint16) []i2ctest.IO {
	return []i2ctest.IO{
		{Addr: addr, W: []byte{0x01}, R: []byte{byte(shunt >> 8), byte(shunt)}},
		{Addr: addr, W: []byte{0x02}, R: []byte{byte(bus >> 8), byte(bus)}},
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestDefaultsAreThePowerOnConfiguration(t *testing.T) {
	// 0.1 Ω and 3.2 A need the ±320 mV range: the datasheet's reset value 0x399f.
	ops := append(configOps(0x40, 0x399f), readOps(0x40, 0x03e8, 0x5dc2)...)
	bus := &i2ctest.Playback{DontPanic: true, Ops: ops}
	d, err := NewI2C(bus, 0x40, nil)
	if err != nil {
		t.Fatal(err)
	}
	// 1000 counts of 10 µV = 10 mV over 0.1 Ω = 100 mA; bus 3000 counts of
	// 4 mV = 12 V (the low bits are CNVR and OVF flags, not voltage).
	v, err := d.Sense(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !near(v[FieldVoltage], 12) || !near(v[FieldCurrent], 0.1) || !near(v[FieldPower], 1.2) || len(v) != 3 {
		t.Errorf("got %v, want 12 V, 0.1 A, 1.2 W", v)
	}
	bustest.AllUsed(t, bus)
}

func TestRangeAndAveragingFollowOpts(t *testing.T) {
	for _, c := range []struct {
		opts Opts
		cfg  uint16
	}{
		{Opts{ShuntOhms: 0.1, MaxCurrentA: 0.4}, 0x219f},                 // ±40 mV
		{Opts{ShuntOhms: 0.01, MaxCurrentA: 10}, 0x319f},                 // 100 mV: ±160 mV
		{Opts{ShuntOhms: 0.1, MaxCurrentA: 0.8, Averaging: 128}, 0x2fff}, // ±80 mV, 128 samples
	} {
		bus := &i2ctest.Playback{DontPanic: true, Ops: configOps(0x45, c.cfg)}
		if _, err := NewI2C(bus, 0x45, &c.opts); err != nil {
			t.Errorf("%+v: %v", c.opts, err)
		}
		bustest.AllUsed(t, bus)
	}
}

func TestReverseCurrent(t *testing.T) {
	// Datasheet shunt register example at PGA /8: -320 mV is 0x8300; take
	// -10 mV, 0xfc18, over 0.01 Ω with a 5 V bus.
	ops := append(configOps(0x40, 0x399f), readOps(0x40, 0xfc18, 1250<<3)...)
	bus := &i2ctest.Playback{DontPanic: true, Ops: ops}
	d, err := NewI2C(bus, 0x40, &Opts{ShuntOhms: 0.01, MaxCurrentA: 32})
	if err != nil {
		t.Fatal(err)
	}
	v, err := d.Sense(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !near(v[FieldCurrent], -1) || !near(v[FieldPower], -5) || !near(v[FieldVoltage], 5) {
		t.Errorf("got %v, want 5 V, -1 A, -5 W", v)
	}
	bustest.AllUsed(t, bus)
}

func TestClippedShuntIsImplausible(t *testing.T) {
	for _, shunt := range []uint16{0x0fa0, 0xf060} { // ±4000 counts: the ±40 mV end
		ops := append(configOps(0x40, 0x219f), readOps(0x40, shunt, 0x5dc2)...)
		bus := &i2ctest.Playback{DontPanic: true, Ops: ops}
		d, err := NewI2C(bus, 0x40, &Opts{MaxCurrentA: 0.4})
		if err != nil {
			t.Fatal(err)
		}
		_, err = d.Sense(context.Background())
		if !errors.Is(err, sensors.ErrImplausible) || !strings.Contains(err.Error(), "±40 mV") {
			t.Errorf("shunt %#04x: %v, want ErrImplausible naming the range", shunt, err)
		}
		bustest.AllUsed(t, bus)
	}
}

func TestErrors(t *testing.T) {
	nack := errors.New("i2c: remote i/o error")
	if _, err := NewI2C(bustest.BrokenBus{Err: nack}, 0x40, nil); !errors.Is(err, nack) || !strings.Contains(err.Error(), "ina219 at 0x40 on broken") {
		t.Errorf("silent bus: %v", err)
	}
	for _, o := range []Opts{
		{ShuntOhms: -1}, {MaxCurrentA: -2}, {Averaging: 3}, {ShuntOhms: 1, MaxCurrentA: 1},
	} {
		if _, err := NewI2C(bustest.BrokenBus{Err: nack}, 0x40, &o); err == nil || errors.Is(err, nack) {
			t.Errorf("%+v: %v, want an option error before any transfer", o, err)
		}
	}
	if _, err := NewI2C(bustest.BrokenBus{Err: nack}, 0x50, nil); err == nil || !strings.Contains(err.Error(), "0x40..0x4f") {
		t.Errorf("address 0x50: %v", err)
	}
	// A different chip at the address does not keep the configuration.
	bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
		{Addr: 0x40, W: []byte{0x00, 0x39, 0x9f}},
		{Addr: 0x40, W: []byte{0x00}, R: []byte{0x00, 0x00}},
	}}
	if _, err := NewI2C(bus, 0x40, nil); err == nil || !strings.Contains(err.Error(), "read back 0x0000") {
		t.Errorf("wrong chip: %v", err)
	}
	// The bus fails in the middle of a read.
	bus = &i2ctest.Playback{DontPanic: true, Ops: append(configOps(0x40, 0x399f), readOps(0x40, 1, 1)[:1]...)}
	d, err := NewI2C(bus, 0x40, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Sense(context.Background()); err == nil || !strings.Contains(err.Error(), "bus voltage") {
		t.Errorf("failing bus: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.Sense(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("done context: %v", err)
	}
}
