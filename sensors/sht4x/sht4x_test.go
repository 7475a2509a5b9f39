package sht4x

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

// The reply bytes below were computed by hand from the datasheet's formulas
// (conversion of signal output) and CRC definition, not by this package:
// raw 0x6666 is 0.4 of full scale, so T = -45 + 175*0.4 = 25 °C; raw 0x9999
// is 0.6 of full scale, so RH = -6 + 125*0.6 = 69 %. CRC(0x6666) = 0x93,
// CRC(0x9999) = 0xBE, CRC(0xFFFF) = 0xAC, CRC(0x0000) = 0x81,
// CRC(0x1234) = 0x37, CRC(0x5678) = 0x7D.
var (
	serialOps = []i2ctest.IO{
		{Addr: 0x44, W: []byte{0x89}},
		{Addr: 0x44, R: []byte{0x12, 0x34, 0x37, 0x56, 0x78, 0x7D}},
	}
	reply25C69pct = []byte{0x66, 0x66, 0x93, 0x99, 0x99, 0xBE}
)

func measureOps(reply []byte) []i2ctest.IO {
	return []i2ctest.IO{
		{Addr: 0x44, W: []byte{0xFD}},
		{Addr: 0x44, R: reply},
	}
}

// newDev opens the SHT4x at 0x44 on bus, through a Timed bus that notes
// the driver's waits between transfers; tests call it in a synctest bubble.
func newDev(t *testing.T, bus *i2ctest.Playback, opts Opts) (*Dev, *bustest.Timed) {
	t.Helper()
	timed := &bustest.Timed{Bus: bus}
	d, err := NewI2C(timed, 0x44, &opts)
	if err != nil {
		t.Fatalf("NewI2C: %v", err)
	}
	return d, timed
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestSenseDecodesDatasheetFormulas(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := &i2ctest.Playback{Ops: slices.Concat(serialOps, measureOps(reply25C69pct)), DontPanic: true}
		d, timed := newDev(t, bus, DefaultOpts)
		if got := d.SerialNumber(); got != 0x12345678 {
			t.Errorf("SerialNumber() = %#x, want 0x12345678", got)
		}
		v, err := d.Sense(context.Background())
		if err != nil {
			t.Fatalf("Sense: %v", err)
		}
		if len(v) != 2 || !near(v["temperature_c"], 25) || !near(v["humidity_pct"], 69) {
			t.Errorf("Sense() = %v, want temperature_c 25 and humidity_pct 69", v)
		}
		want := []time.Duration{10 * time.Millisecond, 10 * time.Millisecond}
		if !slices.Equal(timed.Waits(), want) {
			t.Errorf("waits = %v, want %v (serial number, high precision measurement)", timed.Waits(), want)
		}
		bustest.AllUsed(t, bus)
	})
}

func TestNilOptsMeansDefaults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Only the command byte matters here: nil opts must measure at high
		// precision (0xFD).
		bus := &i2ctest.Playback{Ops: slices.Concat(serialOps, measureOps(reply25C69pct)), DontPanic: true}
		d, err := NewI2C(bus, DefaultAddr, nil)
		if err != nil {
			t.Fatalf("NewI2C: %v", err)
		}
		if _, err := d.Sense(context.Background()); err != nil {
			t.Fatalf("Sense: %v", err)
		}
		bustest.AllUsed(t, bus)
	})
}

func TestPrecisionSelectsCommandAndWait(t *testing.T) {
	for _, tc := range []struct {
		p    Precision
		code byte
		wait time.Duration
	}{
		{High, 0xFD, 10 * time.Millisecond},
		{Medium, 0xF6, 5 * time.Millisecond},
		{Low, 0xE0, 2 * time.Millisecond},
	} {
		t.Run(tc.p.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				bus := &i2ctest.Playback{Ops: slices.Concat(serialOps, []i2ctest.IO{
					{Addr: 0x44, W: []byte{tc.code}},
					{Addr: 0x44, R: reply25C69pct},
				}), DontPanic: true}
				d, timed := newDev(t, bus, Opts{Precision: tc.p})
				if _, err := d.Sense(context.Background()); err != nil {
					t.Fatalf("Sense: %v", err)
				}
				if want := []time.Duration{10 * time.Millisecond, tc.wait}; !slices.Equal(timed.Waits(), want) {
					t.Errorf("waits = %v, want %v (serial number, conversion)", timed.Waits(), want)
				}
				bustest.AllUsed(t, bus)
			})
		})
	}
}

func TestHumidityIsClampedToPercentRange(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply []byte
		want  float64
	}{
		// raw 0xFFFF would be 119 %, raw 0x0000 would be -6 %.
		{"above 100", []byte{0x66, 0x66, 0x93, 0xFF, 0xFF, 0xAC}, 100},
		{"below 0", []byte{0x66, 0x66, 0x93, 0x00, 0x00, 0x81}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				bus := &i2ctest.Playback{Ops: slices.Concat(serialOps, measureOps(tc.reply)), DontPanic: true}
				d, _ := newDev(t, bus, DefaultOpts)
				v, err := d.Sense(context.Background())
				if err != nil {
					t.Fatalf("Sense: %v", err)
				}
				if v["humidity_pct"] != tc.want {
					t.Errorf("humidity_pct = %v, want %v", v["humidity_pct"], tc.want)
				}
				bustest.AllUsed(t, bus)
			})
		})
	}
}

func TestSenseRejects(t *testing.T) {
	for _, tc := range []struct {
		name   string
		reply  []byte
		target error
		text   string
	}{
		{"temperature CRC", []byte{0x66, 0x66, 0x94, 0x99, 0x99, 0xBE}, ErrCRC, "CRC"},
		{"humidity CRC", []byte{0x66, 0x66, 0x93, 0x99, 0x98, 0xBE}, ErrCRC, "humidity"},
		{"all 0xFF", []byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, sensors.ErrImplausible, "0xff"},
		{"all 0x00", []byte{0, 0, 0, 0, 0, 0}, sensors.ErrImplausible, "0x00"},
		// raw 0xFFFF is 130 °C and raw 0x0000 is -45 °C: valid CRCs, but
		// outside the sensor's -40..125 °C range.
		{"too hot", []byte{0xFF, 0xFF, 0xAC, 0x99, 0x99, 0xBE}, sensors.ErrImplausible, "130.00 °C"},
		{"too cold", []byte{0x00, 0x00, 0x81, 0x99, 0x99, 0xBE}, sensors.ErrImplausible, "-45.00 °C"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				bus := &i2ctest.Playback{Ops: slices.Concat(serialOps, measureOps(tc.reply)), DontPanic: true}
				d, _ := newDev(t, bus, DefaultOpts)
				v, err := d.Sense(context.Background())
				if !errors.Is(err, tc.target) {
					t.Fatalf("Sense() = %v, %v; want an error wrapping %v", v, err, tc.target)
				}
				if !strings.Contains(err.Error(), tc.text) || !strings.Contains(err.Error(), "sht4x at 0x44 on playback") {
					t.Errorf("error %q should name the device and contain %q", err, tc.text)
				}
				bustest.AllUsed(t, bus)
			})
		})
	}
}

func TestSenseReportsBusErrors(t *testing.T) {
	errNACK := errors.New("remote I/O error")
	t.Run("NACK on command", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			bus := &bustest.FailingBus{Playback: i2ctest.Playback{Ops: serialOps, DontPanic: true}, Err: errNACK}
			d, err := NewI2C(bus, 0x44, nil)
			if err != nil {
				t.Fatalf("NewI2C: %v", err)
			}
			_, err = d.Sense(context.Background())
			if !errors.Is(err, errNACK) || !strings.Contains(err.Error(), "write command 0xfd") {
				t.Fatalf("Sense error = %v, want the NACK wrapped with the command", err)
			}
			bustest.AllUsed(t, &bus.Playback)
		})
	})
	t.Run("NACK on read", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			bus := &bustest.FailingBus{Playback: i2ctest.Playback{Ops: slices.Concat(serialOps, measureOps(reply25C69pct)[:1]), DontPanic: true}, Err: errNACK}
			d, err := NewI2C(bus, 0x44, nil)
			if err != nil {
				t.Fatalf("NewI2C: %v", err)
			}
			_, err = d.Sense(context.Background())
			if !errors.Is(err, errNACK) || !strings.Contains(err.Error(), "read reply") {
				t.Fatalf("Sense error = %v, want the NACK wrapped as a read failure", err)
			}
			bustest.AllUsed(t, &bus.Playback)
		})
	})
	t.Run("short read", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			// The recording holds only 3 of the 6 bytes the driver asks for, so
			// the playback bus refuses the transaction.
			bus := &i2ctest.Playback{Ops: slices.Concat(serialOps, measureOps(reply25C69pct[:3])), DontPanic: true}
			d, _ := newDev(t, bus, DefaultOpts)
			if _, err := d.Sense(context.Background()); err == nil || !strings.Contains(err.Error(), "read reply") {
				t.Fatalf("Sense error = %v, want a read failure", err)
			}
			if bus.Count != len(bus.Ops)-1 {
				t.Errorf("used %d of %d transactions, want all but the short read", bus.Count, len(bus.Ops))
			}
		})
	})
}

func TestSenseHonoursContext(t *testing.T) {
	t.Run("cancelled before", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			bus := &i2ctest.Playback{Ops: serialOps, DontPanic: true}
			d, _ := newDev(t, bus, DefaultOpts)
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if _, err := d.Sense(ctx); !errors.Is(err, context.Canceled) {
				t.Fatalf("Sense error = %v, want context.Canceled", err)
			}
			bustest.AllUsed(t, bus) // no measurement traffic
		})
	})
	t.Run("deadline during conversion", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			// The command goes out, the deadline passes 3 ms into the 10 ms
			// wait, and the read gives up then; the reply is never read.
			bus := &i2ctest.Playback{Ops: slices.Concat(serialOps, measureOps(reply25C69pct)[:1]), DontPanic: true}
			d, _ := newDev(t, bus, DefaultOpts)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Millisecond)
			defer cancel()
			start := time.Now()
			if _, err := d.Sense(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Sense error = %v, want context.DeadlineExceeded", err)
			}
			if took := time.Since(start); took != 3*time.Millisecond {
				t.Errorf("Sense returned after %v, want 3ms: at the deadline, not at the end of the wait", took)
			}
			bustest.AllUsed(t, bus)
		})
	})
}

func TestConcurrentSensesDoNotInterleave(t *testing.T) {
	// Each measurement is a write then a read. The first Sense is held
	// just after its write while a second one starts; without the lock
	// the second command would reach the bus between the first's write and
	// read, and the playback would refuse it. It runs on the real clock,
	// outside a bubble (see bustest.Holding).
	playback := &i2ctest.Playback{Ops: slices.Concat(serialOps, measureOps(reply25C69pct), measureOps(reply25C69pct)), DontPanic: true}
	bus := &bustest.Holding{Bus: playback, At: len(serialOps), Held: make(chan struct{}), Release: make(chan struct{})}
	d, err := NewI2C(bus, 0x44, nil)
	if err != nil {
		t.Fatalf("NewI2C: %v", err)
	}
	errs := make(chan error, 2)
	sense := func() {
		_, err := d.Sense(context.Background())
		errs <- err
	}
	go sense()
	<-bus.Held
	go sense()
	// Give the second Sense time to reach the bus if nothing stops it. A
	// slow scheduler can only make this test pass wrongly, never fail.
	time.Sleep(20 * time.Millisecond)
	close(bus.Release)
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("Sense: %v", err)
		}
	}
	bustest.AllUsed(t, playback)
}

func TestReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := &i2ctest.Playback{Ops: slices.Concat(serialOps, []i2ctest.IO{{Addr: 0x44, W: []byte{0x94}}}), DontPanic: true}
		d, timed := newDev(t, bus, DefaultOpts)
		if err := d.Reset(context.Background()); err != nil {
			t.Fatalf("Reset: %v", err)
		}
		if wait := timed.SinceLast(); wait != time.Millisecond {
			t.Errorf("reset wait = %v, want 1ms", wait)
		}
		bustest.AllUsed(t, bus)
	})
}

func TestNewI2CRejects(t *testing.T) {
	t.Run("wrong address", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			bus := &i2ctest.Playback{DontPanic: true}
			if _, err := NewI2C(bus, 0x40, nil); err == nil || !strings.Contains(err.Error(), "0x44, 0x45 or 0x46") {
				t.Fatalf("NewI2C error = %v, want the valid addresses named", err)
			}
			bustest.AllUsed(t, bus)
		})
	})
	t.Run("unknown precision", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			bus := &i2ctest.Playback{DontPanic: true}
			if _, err := NewI2C(bus, 0x44, &Opts{Precision: 7}); err == nil {
				t.Fatal("NewI2C accepted precision 7")
			}
			bustest.AllUsed(t, bus)
		})
	})
	t.Run("no device", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			errNACK := errors.New("remote I/O error")
			bus := &bustest.FailingBus{Playback: i2ctest.Playback{DontPanic: true}, Err: errNACK}
			_, err := NewI2C(bus, 0x45, nil)
			if !errors.Is(err, errNACK) || !strings.Contains(err.Error(), "is an SHT4x connected") {
				t.Fatalf("NewI2C error = %v, want the NACK and a hint", err)
			}
		})
	})
	t.Run("serial CRC", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			bus := &i2ctest.Playback{Ops: []i2ctest.IO{
				{Addr: 0x44, W: []byte{0x89}},
				{Addr: 0x44, R: []byte{0x12, 0x34, 0x37, 0x56, 0x78, 0x00}},
			}, DontPanic: true}
			_, err := NewI2C(bus, 0x44, nil)
			if !errors.Is(err, ErrCRC) {
				t.Fatalf("NewI2C error = %v, want ErrCRC", err)
			}
			bustest.AllUsed(t, bus)
		})
	})
}
