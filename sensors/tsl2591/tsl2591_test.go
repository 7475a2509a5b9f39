package tsl2591

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/edgepub/edgepub/sensors/internal/bustest"
	"periph.io/x/conn/v3/i2c/i2ctest"
)

// openOps is NewI2C's traffic per the datasheet's register description:
// the ID register 0x12 read through the COMMAND byte 0xA0 (CMD bit 7,
// normal transaction 01 in bits 6:5), holding 0x50; CONTROL (0x01) with
// AGAIN in bits 5:4 and ATIME in bits 2:0; ENABLE (0x00) with PON (bit 0)
// and AEN (bit 1).
func openOps(control byte) []i2ctest.IO {
	return []i2ctest.IO{
		{Addr: 0x29, W: []byte{0xB2}, R: []byte{0x50}},
		{Addr: 0x29, W: []byte{0xA1, control}},
		{Addr: 0x29, W: []byte{0xA0, 0x03}},
	}
}

// readOps is one Sense: STATUS (0x13) with AVALID (bit 0) set, then
// C0DATAL..C1DATAH (0x14..0x17) in one transfer, low bytes first.
func readOps(ch0, ch1 uint16) []i2ctest.IO {
	return []i2ctest.IO{
		{Addr: 0x29, W: []byte{0xB3}, R: []byte{0x01}},
		{Addr: 0x29, W: []byte{0xB4}, R: []byte{byte(ch0), byte(ch0 >> 8), byte(ch1), byte(ch1 >> 8)}},
	}
}

// The lux formula of the Linux kernel's tsl2591 driver and Adafruit's
// library, CPL = ATIME_ms × AGAIN / 408 and lux = (C0 − C1)(1 − C1/C0) /
// CPL, worked by hand for each case.
func TestSenseGivesTheLuxOfTheFormula(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    Opts
		control byte
		ch0     uint16
		ch1     uint16
		lux     float64
	}{
		// Gain 25×, 100 ms: CPL = 2500/408; (10000 − 2000) × 0.8 ×
		// 408 / 2500 = 1044.48 lx.
		{"default", DefaultOpts, 0x10, 10000, 2000, 1044.48},
		// Gain 1×, 600 ms: CPL = 600/408; (50000 − 10000) × 0.8 ×
		// 408 / 600 = 21760 lx.
		{"daylight", Opts{Gain: GainLow, IntegrationTime: 600 * time.Millisecond}, 0x05, 50000, 10000, 21760},
		// Gain 9876×, 200 ms: CPL = 1975200/408; (30000 − 15000) ×
		// 0.5 × 408 / 1975200 = 1.5492102 lx.
		{"night", Opts{Gain: GainMax, IntegrationTime: 200 * time.Millisecond}, 0x31, 30000, 15000, 7500 * 408 / 1975200.0},
		// Gain 428×, 300 ms: CPL = 128400/408; (20000 − 4000) × 0.8 ×
		// 408 / 128400 = 40.672897 lx.
		{"dim", Opts{Gain: GainHigh, IntegrationTime: 300 * time.Millisecond}, 0x22, 20000, 4000, 12800 * 408 / 128400.0},
		// No infrared: lux = C0 / CPL = 2448 × 408 / 2500 = 399.5136.
		{"no infrared", DefaultOpts, 0x10, 2448, 0, 399.5136},
		// Channel 1 above channel 0 is noise in the dark: 0 lx.
		{"dark", DefaultOpts, 0x10, 3, 5, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ops := append(openOps(tc.control), readOps(tc.ch0, tc.ch1)...)
				ops = append(ops, readOps(tc.ch0, tc.ch1)...)
				bus := &i2ctest.Playback{DontPanic: true, Ops: ops}
				timed := &bustest.Timed{Bus: bus}
				opts := tc.opts
				d, err := NewI2C(timed, Addr, &opts)
				if err != nil {
					t.Fatal(err)
				}
				for range 2 {
					v, err := d.Sense(context.Background())
					if err != nil || math.Abs(v["illuminance_lux"]-tc.lux) > 1e-6 {
						t.Fatalf("Sense() = %v, %v; want illuminance_lux %v", v, err, tc.lux)
					}
				}
				// Only the first read waits, after power-on and before the
				// status read: one integration and 5 % for a slow oscillator.
				if want := []time.Duration{opts.IntegrationTime * 105 / 100}; !slices.Equal(timed.Waits(), want) {
					t.Errorf("waits = %v, want %v", timed.Waits(), want)
				}
				if d.Spacing() != opts.IntegrationTime {
					t.Errorf("Spacing = %v, want the integration time %v", d.Spacing(), opts.IntegrationTime)
				}
				bustest.AllUsed(t, bus)
			})
		})
	}
}

// The ID register of a TSL2591 holds 0x50 (datasheet, register 0x12); a
// chip with another id, such as a TCS34725 (0x44) at the same address, is
// refused before anything is written to it.
func TestNewI2CChecksTheDeviceID(t *testing.T) {
	bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{{Addr: 0x29, W: []byte{0xB2}, R: []byte{0x44}}}}
	_, err := NewI2C(bus, Addr, nil)
	if err == nil || !strings.Contains(err.Error(), "device id 0x44 is not the TSL2591's 0x50") {
		t.Errorf("NewI2C with id 0x44 = %v", err)
	}
	bustest.AllUsed(t, bus)
}

// The datasheet's MAX COUNT is 36863 at 100 ms and 65535 at longer
// integration times: a channel there is saturated.
func TestSaturation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, tc := range []struct {
			opts     Opts
			control  byte
			ch0, ch1 uint16
			want     string
		}{
			{DefaultOpts, 0x10, 36863, 100, "saturated (channel 0 36863, channel 1 100 counts of 36863) above about 6016 lx"},
			{Opts{Gain: GainLow, IntegrationTime: 200 * time.Millisecond}, 0x01, 0xFFFF, 0xFFFF, "counts of 65535"},
		} {
			ops := append(openOps(tc.control), readOps(tc.ch0, tc.ch1)...)
			bus := &i2ctest.Playback{DontPanic: true, Ops: ops}
			opts := tc.opts
			d, err := NewI2C(bus, Addr, &opts)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := d.Sense(context.Background()); err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "lower the gain") {
				t.Errorf("Sense = %v, want …%s…", err, tc.want)
			}
		}
		// One count below the maximum at 100 ms is a reading.
		bus := &i2ctest.Playback{DontPanic: true, Ops: append(openOps(0x10), readOps(36862, 0)...)}
		d, err := NewI2C(bus, Addr, &Opts{Gain: GainMedium, IntegrationTime: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Sense(context.Background()); err != nil {
			t.Errorf("36862 counts at 100 ms: %v", err)
		}
	})
}

// Until an integration has finished, AVALID (STATUS bit 0) is clear: Sense
// polls it every 10 ms, and gives up after ten polls.
func TestSenseWaitsForAValidResult(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		notValid := i2ctest.IO{Addr: 0x29, W: []byte{0xB3}, R: []byte{0x00}}
		ops := append(openOps(0x10), notValid, notValid)
		ops = append(ops, readOps(2448, 0)...)
		bus := &i2ctest.Playback{DontPanic: true, Ops: ops}
		timed := &bustest.Timed{Bus: bus}
		d, err := NewI2C(timed, Addr, &Opts{Gain: GainMedium, IntegrationTime: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if v, err := d.Sense(context.Background()); err != nil || math.Abs(v["illuminance_lux"]-399.5136) > 1e-6 {
			t.Errorf("Sense = %v, %v", v, err)
		}
		if want := []time.Duration{105 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond}; !slices.Equal(timed.Waits(), want) {
			t.Errorf("waits = %v, want %v", timed.Waits(), want)
		}
		bustest.AllUsed(t, bus)

		never := openOps(0x10)
		for range validPolls + 1 {
			never = append(never, notValid)
		}
		bus = &i2ctest.Playback{DontPanic: true, Ops: never}
		d, err = NewI2C(bus, Addr, &Opts{Gain: GainMedium, IntegrationTime: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Sense(context.Background()); err == nil || !strings.Contains(err.Error(), "no valid result") {
			t.Errorf("Sense with AVALID never set = %v", err)
		}
		bustest.AllUsed(t, bus)
	})
}

func TestNewI2CRejects(t *testing.T) {
	for _, tc := range []struct {
		addr uint16
		opts Opts
		text string
	}{
		{0x39, DefaultOpts, "only at 0x29"},
		{Addr, Opts{Gain: 4, IntegrationTime: 100 * time.Millisecond}, "unknown gain 4"},
		{Addr, Opts{Gain: GainLow, IntegrationTime: 150 * time.Millisecond}, "integration time 150ms"},
		{Addr, Opts{Gain: GainLow}, "integration time 0s"},
	} {
		bus := &i2ctest.Playback{DontPanic: true}
		if _, err := NewI2C(bus, tc.addr, &tc.opts); err == nil || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("NewI2C(%#x, %+v) = %v, want …%s…", tc.addr, tc.opts, err, tc.text)
		}
	}
}

func TestSenseHonoursContext(t *testing.T) {
	bus := &i2ctest.Playback{DontPanic: true, Ops: openOps(0x10)}
	d, err := NewI2C(bus, Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.Sense(ctx); err == nil || !strings.Contains(err.Error(), "canceled") {
		t.Errorf("Sense with a done context = %v", err)
	}
	bustest.AllUsed(t, bus)
}
