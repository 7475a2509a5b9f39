package tmp102

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
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2ctest"
)

// 0x60A0 is the configuration register's power-on value (4 Hz, comparator
// mode, not shut down); periph reads it and writes it back unchanged.
var (
	readConfig  = i2ctest.IO{Addr: 0x48, W: []byte{0x01}, R: []byte{0x60, 0xA0}}
	writeConfig = i2ctest.IO{Addr: 0x48, W: []byte{0x01, 0x60, 0xA0}}
	initOps     = []i2ctest.IO{readConfig, writeConfig}
)

// readTemperature reads register 0x00: a 12-bit two's complement count of
// 0.0625 °C in the upper 12 bits.
func readTemperature(msb, lsb byte) i2ctest.IO {
	return i2ctest.IO{Addr: 0x48, W: []byte{0x00}, R: []byte{msb, lsb}}
}

// newDev opens the TMP102 at 0x48 on bus, through a Timed bus that notes
// the driver's waits between transfers; tests call it in a synctest bubble.
func newDev(t *testing.T, bus i2c.Bus) (*Dev, *bustest.Timed) {
	t.Helper()
	timed := &bustest.Timed{Bus: bus}
	d, err := NewI2C(timed, DefaultAddr, &Opts{SampleRate: RateFourHertz})
	if err != nil {
		t.Fatalf("NewI2C: %v", err)
	}
	return d, timed
}

func TestSenseDecodesDatasheetTable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Rows of the datasheet's 12-bit temperature data format table.
		for _, tc := range []struct {
			msb, lsb byte
			want     float64
		}{
			{0x7F, 0xF0, 127.9375},
			{0x19, 0x00, 25},
			{0x00, 0x40, 0.25},
			{0x00, 0x00, 0},
			{0xFF, 0xC0, -0.25},
			{0xE7, 0x00, -25},
			{0xC9, 0x00, -55},
		} {
			bus := &i2ctest.Playback{Ops: slices.Concat(initOps, []i2ctest.IO{readTemperature(tc.msb, tc.lsb)}), DontPanic: true}
			d, _ := newDev(t, bus)
			v, err := d.Sense(context.Background())
			if err != nil {
				t.Fatalf("Sense(%#02x %#02x): %v", tc.msb, tc.lsb, err)
			}
			if len(v) != 1 || math.Abs(v["temperature_c"]-tc.want) > 1e-9 {
				t.Errorf("Sense(%#02x %#02x) = %v, want temperature_c %v", tc.msb, tc.lsb, v, tc.want)
			}
			bustest.AllUsed(t, bus)
		}
	})
}

func TestFirstSenseWaitsOneConversion(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := &i2ctest.Playback{Ops: slices.Concat(initOps, []i2ctest.IO{readTemperature(0x19, 0x00), readTemperature(0x19, 0x10)}), DontPanic: true}
		d, timed := newDev(t, bus)
		for range 2 {
			if _, err := d.Sense(context.Background()); err != nil {
				t.Fatalf("Sense: %v", err)
			}
		}
		if !slices.Equal(timed.Waits(), []time.Duration{35 * time.Millisecond}) {
			t.Errorf("waits = %v, want a single 35ms wait before the first read", timed.Waits())
		}
		bustest.AllUsed(t, bus)
	})
}

func TestSampleRateIsWritten(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Conversion rate bits CR1..CR0 are bits 7..6 of the low byte:
		// 0xA0 (4 Hz) becomes 0x60 (1 Hz).
		bus := &i2ctest.Playback{Ops: []i2ctest.IO{readConfig, {Addr: 0x49, W: []byte{0x01, 0x60, 0x60}}}, DontPanic: true}
		bus.Ops[0].Addr = 0x49
		if _, err := NewI2C(bus, 0x49, &Opts{SampleRate: RateOneHertz}); err != nil {
			t.Fatalf("NewI2C: %v", err)
		}
		bustest.AllUsed(t, bus)
	})
}

func TestNilOptsKeepsPowerOnRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := &i2ctest.Playback{Ops: initOps, DontPanic: true}
		if _, err := NewI2C(bus, DefaultAddr, nil); err != nil {
			t.Fatalf("NewI2C: %v", err)
		}
		bustest.AllUsed(t, bus)
	})
}

func TestHaltShutsDownAndSenseWakesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := &i2ctest.Playback{Ops: slices.Concat(initOps, []i2ctest.IO{
			readTemperature(0x19, 0x00),
			readConfig, // periph's Halt looks and leaves it alone
			readConfig,
			{Addr: 0x48, W: []byte{0x01, 0x61, 0xA0}}, // SD bit set
			{Addr: 0x48, W: []byte{0x01}, R: []byte{0x61, 0xA0}},
			writeConfig, // SD bit cleared: awake
			readConfig,  // periph reconfigures before reading
			writeConfig,
			readTemperature(0x19, 0x80),
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
		if want := []time.Duration{35 * time.Millisecond, 35 * time.Millisecond}; !slices.Equal(timed.Waits(), want) {
			t.Errorf("waits = %v, want %v: one after NewI2C and one after the wake-up", timed.Waits(), want)
		}
		bustest.AllUsed(t, bus)
	})
}

func TestSenseRejectsImplausible(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// 0xC80 is -56 °C, one degree below the operating range.
		bus := &i2ctest.Playback{Ops: slices.Concat(initOps, []i2ctest.IO{readTemperature(0xC8, 0x00)}), DontPanic: true}
		d, _ := newDev(t, bus)
		v, err := d.Sense(context.Background())
		if !errors.Is(err, sensors.ErrImplausible) || !strings.Contains(err.Error(), "-56.0000 °C") {
			t.Fatalf("Sense() = %v, %v; want ErrImplausible mentioning -56 °C", v, err)
		}
		if !strings.HasPrefix(err.Error(), "tmp102 at 0x48 on playback: ") {
			t.Errorf("error %q should name the device", err)
		}
		bustest.AllUsed(t, bus)
	})
}

func TestSenseReportsBusErrors(t *testing.T) {
	errNACK := errors.New("remote I/O error")
	t.Run("NACK", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			bus := &bustest.FailingBus{Playback: i2ctest.Playback{Ops: initOps, DontPanic: true}, Err: errNACK}
			d, _ := newDev(t, bus)
			if _, err := d.Sense(context.Background()); !errors.Is(err, errNACK) || !strings.Contains(err.Error(), "read: ") {
				t.Fatalf("Sense error = %v, want the NACK as a read failure", err)
			}
			bustest.AllUsed(t, &bus.Playback)
		})
	})
	t.Run("short read", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			short := i2ctest.IO{Addr: 0x48, W: []byte{0x00}, R: []byte{0x19}}
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
			bus := &bustest.FailingBus{Playback: i2ctest.Playback{Ops: slices.Concat(initOps, []i2ctest.IO{readConfig}), DontPanic: true}, Err: errNACK}
			d, _ := newDev(t, bus)
			if err := d.Halt(); !errors.Is(err, errNACK) || !strings.Contains(err.Error(), "shut down") {
				t.Fatalf("Halt error = %v, want the NACK", err)
			}
			bustest.AllUsed(t, &bus.Playback)
		})
	})
	t.Run("NACK on wake-up", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			bus := &bustest.FailingBus{Playback: i2ctest.Playback{Ops: slices.Concat(initOps, []i2ctest.IO{
				readConfig, readConfig, {Addr: 0x48, W: []byte{0x01, 0x61, 0xA0}},
			}), DontPanic: true}, Err: errNACK}
			d, _ := newDev(t, bus)
			if err := d.Halt(); err != nil {
				t.Fatalf("Halt: %v", err)
			}
			if _, err := d.Sense(context.Background()); !errors.Is(err, errNACK) || !strings.Contains(err.Error(), "wake up") {
				t.Fatalf("Sense error = %v, want the NACK as a wake-up failure", err)
			}
			bustest.AllUsed(t, &bus.Playback)
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
			bus := &i2ctest.Playback{Ops: initOps, DontPanic: true}
			d, _ := newDev(t, bus)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
			defer cancel()
			start := time.Now()
			if _, err := d.Sense(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Sense error = %v, want context.DeadlineExceeded", err)
			}
			if took := time.Since(start); took != 10*time.Millisecond {
				t.Errorf("Sense returned after %v, want 10ms: at the deadline", took)
			}
			bustest.AllUsed(t, bus) // the temperature was never read
		})
	})
}

func TestNewI2CRejects(t *testing.T) {
	t.Run("wrong address", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			bus := &i2ctest.Playback{DontPanic: true}
			if _, err := NewI2C(bus, 0x40, nil); err == nil || !strings.Contains(err.Error(), "0x48 to 0x4B") {
				t.Fatalf("NewI2C error = %v, want the valid addresses named", err)
			}
			bustest.AllUsed(t, bus)
		})
	})
	t.Run("unknown sample rate", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			bus := &i2ctest.Playback{DontPanic: true}
			if _, err := NewI2C(bus, DefaultAddr, &Opts{SampleRate: 4}); err == nil {
				t.Fatal("NewI2C accepted sample rate 4")
			}
			bustest.AllUsed(t, bus)
		})
	})
	t.Run("no device", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			errNACK := errors.New("remote I/O error")
			bus := &bustest.FailingBus{Playback: i2ctest.Playback{DontPanic: true}, Err: errNACK}
			_, err := NewI2C(bus, DefaultAddr, nil)
			if !errors.Is(err, errNACK) || !strings.Contains(err.Error(), "is a TMP102 connected there") {
				t.Fatalf("NewI2C error = %v, want the NACK and a hint", err)
			}
		})
	})
}
