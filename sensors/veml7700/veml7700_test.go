package veml7700

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

// Configuration words from the datasheet's ALS_CONF_0 table: gain in bits
// 12:11 (1/8 = 10, 2 = 01), integration time in bits 9:6 (100 ms = 0000,
// 800 ms = 0011, 25 ms = 1100), ALS_SD (bit 0) 0 for power on. Registers
// go least significant byte first. Resolutions from the application note's
// table: 0.0042 lx/count at gain 2, 800 ms; 0.5376 at gain 1/8, 100 ms;
// 2.1504 at gain 1/8, 25 ms.
func TestSenseAtDatasheetResolutions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Opts
		conf []byte
		lux  float64
	}{
		{"default", DefaultOpts, []byte{0x00, 0x00, 0x10}, 1000 * 0.5376},
		{"most sensitive", Opts{Gain: Gain2, IntegrationTime: 800 * time.Millisecond}, []byte{0x00, 0xC0, 0x08}, 1000 * 0.0042},
		{"least sensitive", Opts{Gain: Gain1_8, IntegrationTime: 25 * time.Millisecond}, []byte{0x00, 0x00, 0x13}, 1000 * 2.1504},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
					{Addr: 0x10, W: tc.conf},
					{Addr: 0x10, W: []byte{0x04}, R: []byte{0xE8, 0x03}}, // 1000 counts
					{Addr: 0x10, W: []byte{0x04}, R: []byte{0xE8, 0x03}},
				}}
				timed := &bustest.Timed{Bus: bus}
				opts := tc.opts
				d, err := NewI2C(timed, Addr, &opts)
				if err != nil {
					t.Fatal(err)
				}
				for range 2 {
					v, err := d.Sense(context.Background())
					if err != nil || math.Abs(v["illuminance_lux"]-tc.lux) > 1e-9 {
						t.Fatalf("Sense() = %v, %v; want illuminance_lux %v", v, err, tc.lux)
					}
				}
				// Only the first read waits for an integration.
				if want := []time.Duration{opts.IntegrationTime + 3*time.Millisecond}; !slices.Equal(timed.Waits(), want) {
					t.Errorf("waits = %v, want %v", timed.Waits(), want)
				}
				bustest.AllUsed(t, bus)
			})
		})
	}
}

func TestSaturation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
			{Addr: 0x10, W: []byte{0x00, 0x00, 0x10}},
			{Addr: 0x10, W: []byte{0x04}, R: []byte{0xFF, 0xFF}},
		}}
		d, err := NewI2C(bus, Addr, &Opts{Gain: Gain1_8, IntegrationTime: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Sense(context.Background()); err == nil || !strings.Contains(err.Error(), "saturated above 35232 lx") {
			t.Errorf("Sense = %v, want saturation named", err)
		}
	})
}

func TestNewI2CRejects(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, tc := range []struct {
			addr uint16
			opts Opts
			text string
		}{
			{0x48, DefaultOpts, "only at 0x10"},
			{Addr, Opts{Gain: 7, IntegrationTime: 100 * time.Millisecond}, "unknown gain"},
			{Addr, Opts{IntegrationTime: 300 * time.Millisecond}, "integration time"},
		} {
			if _, err := NewI2C(&i2ctest.Playback{DontPanic: true}, tc.addr, &tc.opts); err == nil || !strings.Contains(err.Error(), tc.text) {
				t.Errorf("NewI2C(%#x, %+v) = %v, want %q", tc.addr, tc.opts, err, tc.text)
			}
		}
		errNACK := errors.New("remote I/O error")
		if _, err := NewI2C(bustest.BrokenBus{Err: errNACK}, Addr, nil); !errors.Is(err, errNACK) {
			t.Errorf("no device: %v", err)
		}
	})
}
