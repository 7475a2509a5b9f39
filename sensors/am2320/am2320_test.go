package am2320

import (
	"bytes"
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

var errNACK = errors.New("remote I/O error")

// datasheetReply is the datasheet's own example (p. 17 of the Adafruit copy): 82.5 %RH,
// 27.7 °C, CRC 0xFEE1 sent low byte first.
var datasheetReply = []byte{0x03, 0x04, 0x03, 0x39, 0x01, 0x15, 0xE1, 0xFE}

// sleepingSensorBus replays ops but, like a real AM2320 that is asleep,
// NACKs the one-byte wake-up write without consuming a recorded transaction.
// After the recorded ops it fails everything with errNACK, like a sensor
// that stopped answering.
type sleepingSensorBus struct {
	bustest.FailingBus
	wakes int
}

func (b *sleepingSensorBus) Tx(addr uint16, w, r []byte) error {
	if bytes.Equal(w, []byte{0x00}) && len(r) == 0 {
		b.wakes++
		return errNACK
	}
	return b.FailingBus.Tx(addr, w, r)
}

func readOps(reply []byte) []i2ctest.IO {
	return []i2ctest.IO{
		{Addr: 0x5C, W: []byte{0x03, 0x00, 0x04}},
		{Addr: 0x5C, R: reply},
	}
}

// newDev opens the AM2320 on a sleepingSensorBus replaying ops, through a
// Timed bus that notes the driver's waits between transfers (the wake-up
// write included); tests call it in a synctest bubble.
func newDev(t *testing.T, ops []i2ctest.IO) (*Dev, *sleepingSensorBus, *bustest.Timed) {
	t.Helper()
	bus := &sleepingSensorBus{FailingBus: bustest.FailingBus{Playback: i2ctest.Playback{Ops: ops, DontPanic: true}, Err: errNACK}}
	timed := &bustest.Timed{Bus: bus}
	d, err := NewI2C(timed, DefaultAddr, nil)
	if err != nil {
		t.Fatalf("NewI2C: %v", err)
	}
	return d, bus, timed
}

func TestCRC16DatasheetExamples(t *testing.T) {
	for _, tc := range []struct {
		data []byte
		want uint16
	}{
		{datasheetReply[:6], 0xFEE1},
		// Datasheet p. 20: writing the status register, CRC 0xF4 (low), 0xB7 (high).
		{[]byte{0x10, 0x0F, 0x01, 0x01}, 0xB7F4},
	} {
		if got := crc16(tc.data); got != tc.want {
			t.Errorf("crc16(% x) = %#04x, want %#04x", tc.data, got, tc.want)
		}
	}
}

func TestSenseDecodesDatasheetExample(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, bus, timed := newDev(t, readOps(datasheetReply))
		v, err := d.Sense(context.Background())
		if err != nil {
			t.Fatalf("Sense: %v", err)
		}
		if len(v) != 2 || math.Abs(v["temperature_c"]-27.7) > 1e-9 || math.Abs(v["humidity_pct"]-82.5) > 1e-9 {
			t.Errorf("Sense() = %v, want temperature_c 27.7 and humidity_pct 82.5", v)
		}
		if bus.wakes != 1 {
			t.Errorf("sent %d wake-ups, want 1", bus.wakes)
		}
		want := []time.Duration{10 * time.Millisecond, 2 * time.Millisecond}
		if !slices.Equal(timed.Waits(), want) {
			t.Errorf("waits = %v, want %v (wake-up, reply)", timed.Waits(), want)
		}
		bustest.AllUsed(t, &bus.Playback)
	})
}

func TestSenseWorksWhenSensorIsAlreadyAwake(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// An awake sensor acknowledges the wake-up byte; the read goes on.
		bus := &i2ctest.Playback{Ops: append([]i2ctest.IO{{Addr: 0x5C, W: []byte{0x00}}}, readOps(datasheetReply)...), DontPanic: true}
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

func TestSenseDecodesNegativeTemperature(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Datasheet p. 22: -10.1 °C is sent as 0x8065 (sign bit and 101).
		d, bus, _ := newDev(t, readOps([]byte{0x03, 0x04, 0x01, 0xF4, 0x80, 0x65, 0x10, 0x0D}))
		v, err := d.Sense(context.Background())
		if err != nil {
			t.Fatalf("Sense: %v", err)
		}
		if math.Abs(v["temperature_c"]-(-10.1)) > 1e-9 || math.Abs(v["humidity_pct"]-50) > 1e-9 {
			t.Errorf("Sense() = %v, want temperature_c -10.1 and humidity_pct 50", v)
		}
		bustest.AllUsed(t, &bus.Playback)
	})
}

func TestSenseRejects(t *testing.T) {
	for _, tc := range []struct {
		name   string
		reply  []byte
		target error
		text   string
	}{
		{"CRC", []byte{0x03, 0x04, 0x03, 0x39, 0x01, 0x16, 0xE1, 0xFE}, ErrCRC, "CRC"},
		{"all 0xFF", bytes.Repeat([]byte{0xFF}, 8), sensors.ErrImplausible, "all 0xff"},
		{"all 0x00", make([]byte, 8), sensors.ErrImplausible, "all 0x00"},
		// 90.0 °C, valid CRC, above the 80 °C limit.
		{"too hot", []byte{0x03, 0x04, 0x01, 0xF4, 0x03, 0x84, 0xB1, 0x75}, sensors.ErrImplausible, "90.0 °C"},
		// -41.0 °C, valid CRC, below the -40 °C limit.
		{"too cold", []byte{0x03, 0x04, 0x01, 0xF4, 0x81, 0x9A, 0x51, 0xDD}, sensors.ErrImplausible, "-41.0 °C"},
		// 100.1 %RH, valid CRC.
		{"too humid", []byte{0x03, 0x04, 0x03, 0xE9, 0x01, 0x15, 0xE0, 0x07}, sensors.ErrImplausible, "100.1 %"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				d, bus, _ := newDev(t, readOps(tc.reply))
				v, err := d.Sense(context.Background())
				if !errors.Is(err, tc.target) {
					t.Fatalf("Sense() = %v, %v; want an error wrapping %v", v, err, tc.target)
				}
				if !strings.Contains(err.Error(), tc.text) || !strings.HasPrefix(err.Error(), "am2320 at 0x5c on playback: ") {
					t.Errorf("error %q should name the device and contain %q", err, tc.text)
				}
				bustest.AllUsed(t, &bus.Playback)
			})
		})
	}
	t.Run("refused command", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			// An error reply (function code 0x80 with its own CRC) must not be
			// reported as a CRC error.
			d, bus, _ := newDev(t, readOps([]byte{0x80, 0x04, 0x00, 0x00, 0x00, 0x00, 0xEE, 0x1B}))
			_, err := d.Sense(context.Background())
			if err == nil || errors.Is(err, ErrCRC) || !strings.Contains(err.Error(), "want 03 04") {
				t.Fatalf("Sense error = %v, want a refused-command error", err)
			}
			bustest.AllUsed(t, &bus.Playback)
		})
	})
}

func TestSenseReportsBusErrors(t *testing.T) {
	t.Run("no sensor", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			d, bus, _ := newDev(t, nil)
			_, err := d.Sense(context.Background())
			if !errors.Is(err, errNACK) || !strings.Contains(err.Error(), "is an AM2320 connected") {
				t.Fatalf("Sense error = %v, want the NACK with a hint", err)
			}
			bustest.AllUsed(t, &bus.Playback)
		})
	})
	t.Run("NACK on read", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			d, bus, _ := newDev(t, readOps(datasheetReply)[:1])
			_, err := d.Sense(context.Background())
			if !errors.Is(err, errNACK) || !strings.Contains(err.Error(), "read reply") {
				t.Fatalf("Sense error = %v, want the NACK wrapped as a read failure", err)
			}
			bustest.AllUsed(t, &bus.Playback)
		})
	})
	t.Run("short read", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			// The recording has 4 of the 8 bytes the driver asks for, so the
			// playback refuses the transaction; it stays unused.
			bus := &i2ctest.Playback{Ops: append([]i2ctest.IO{{Addr: 0x5C, W: []byte{0x00}}}, readOps(datasheetReply[:4])...), DontPanic: true}
			d, err := NewI2C(bus, DefaultAddr, nil)
			if err != nil {
				t.Fatalf("NewI2C: %v", err)
			}
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
			d, bus, _ := newDev(t, nil)
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if _, err := d.Sense(ctx); !errors.Is(err, context.Canceled) {
				t.Fatalf("Sense error = %v, want context.Canceled", err)
			}
			if bus.wakes != 0 {
				t.Errorf("woke the sensor %d times, want no bus traffic", bus.wakes)
			}
		})
	})
	t.Run("deadline while waiting for the reply", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			// The deadline passes 1 ms into the 2 ms wait for the reply,
			// after the 10 ms wake-up and the read command.
			d, bus, _ := newDev(t, readOps(datasheetReply)[:1])
			ctx, cancel := context.WithTimeout(context.Background(), 11*time.Millisecond)
			defer cancel()
			start := time.Now()
			if _, err := d.Sense(ctx); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "wait for reply") {
				t.Fatalf("Sense error = %v, want context.DeadlineExceeded waiting for the reply", err)
			}
			if took := time.Since(start); took != 11*time.Millisecond {
				t.Errorf("Sense returned after %v, want 11ms: at the deadline", took)
			}
			bustest.AllUsed(t, &bus.Playback) // the reply was never read
		})
	})
}

func TestNewI2CRejectsOtherAddresses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := &i2ctest.Playback{DontPanic: true}
		if _, err := NewI2C(bus, 0xB8, nil); err == nil || !strings.Contains(err.Error(), "fixed at 0x5c") {
			t.Fatalf("NewI2C(0xB8) error = %v, want the fixed address named", err)
		}
		bustest.AllUsed(t, bus)
	})
}

// Datasheet section 8.2.4: "minimum interval of continuous reading 2S".
// A second read 0.5 s after the first waits the remaining 1.5 s before it
// wakes the sensor; one 3 s later does not wait.
func TestReadsAreTwoSecondsApart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ops := append(readOps(datasheetReply), readOps(datasheetReply)...)
		ops = append(ops, readOps(datasheetReply)...)
		bus := &sleepingSensorBus{FailingBus: bustest.FailingBus{Playback: i2ctest.Playback{Ops: ops, DontPanic: true}, Err: errNACK}}
		timed := &bustest.Timed{Bus: bus}
		d, err := NewI2C(timed, DefaultAddr, nil)
		if err != nil {
			t.Fatal(err)
		}
		if d.Spacing() != 2*time.Second {
			t.Errorf("Spacing = %v, want 2 s", d.Spacing())
		}
		for _, gap := range []time.Duration{0, 500 * time.Millisecond, 3 * time.Second} {
			time.Sleep(gap)
			if _, err := d.Sense(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		// Each read is a wake-up, 10 ms, the read command, 2 ms, the reply.
		// The first read command goes out 10 ms into the first read, which
		// ends 2 ms later; the second read starts 0.5 s after that, 502 ms
		// after the command, and waits the remaining 1498 ms before its
		// wake-up. The third starts 3 s after the second and does not wait.
		want := []time.Duration{
			10 * time.Millisecond, 2 * time.Millisecond, // first read
			500*time.Millisecond + 1498*time.Millisecond, 10 * time.Millisecond, 2 * time.Millisecond, // 0.5 s later
			3 * time.Second, 10 * time.Millisecond, 2 * time.Millisecond, // 3 s later
		}
		if got := timed.Waits(); !slices.Equal(got, want) {
			t.Errorf("waited %v between transfers, want %v", got, want)
		}
	})
}
