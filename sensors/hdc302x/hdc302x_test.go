package hdc302x

import (
	"bytes"
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/edgepub/edgepub/sensors"
	"github.com/edgepub/edgepub/sensors/internal/bustest"
	"periph.io/x/conn/v3/i2c/i2ctest"
)

// Replies computed by hand from the datasheet's formulas
// (T = -45 + 175·raw/65535 °C, RH = 100·raw/65535 %) and its CRC-8
// (polynomial 0x31, initial 0xFF), not by periph: raw 0x6666 is 0.4 of full
// scale → 25 °C (CRC 0x93); raw 0x9999 is 0.6 → 60 % (CRC 0xBE).
var (
	start10Hz = i2ctest.IO{Addr: 0x44, W: []byte{0x27, 0x37}}
	exitAuto  = i2ctest.IO{Addr: 0x44, W: []byte{0x30, 0x93}} // datasheet command table: Auto Measurement Mode Exit
	// Manufacturer id 0x3000 (Texas Instruments) and its CRC-8, 0x33, by hand.
	readID        = i2ctest.IO{Addr: 0x44, W: []byte{0x37, 0x81}, R: []byte{0x30, 0x00, 0x33}}
	reply25C60pct = []byte{0x66, 0x66, 0x93, 0x99, 0x99, 0xBE}
)

func read(r []byte) i2ctest.IO { return i2ctest.IO{Addr: 0x44, W: []byte{0xE0, 0x00}, R: r} }

// fastOpts keeps each test's start-up wait at 100 ms.
var fastOpts = &Opts{SampleRate: Rate10Hertz}

func TestSenseDecodesDatasheetFormulas(t *testing.T) {
	bus := &i2ctest.Playback{Ops: []i2ctest.IO{exitAuto, readID, start10Hz, read(reply25C60pct)}, DontPanic: true}
	d, err := NewI2C(bus, DefaultAddr, fastOpts)
	if err != nil {
		t.Fatalf("NewI2C: %v", err)
	}
	v, err := d.Sense(context.Background())
	if err != nil {
		t.Fatalf("Sense: %v", err)
	}
	if len(v) != 2 || math.Abs(v["temperature_c"]-25) > 1e-6 || math.Abs(v["humidity_pct"]-60) > 1e-6 {
		t.Errorf("Sense() = %v, want temperature_c 25 and humidity_pct 60", v)
	}
	bustest.AllUsed(t, bus)
}

func TestNilOptsStartsAtOneHertz(t *testing.T) {
	// 0x2130 is the datasheet's 1 measurement per second, low-noise
	// command. NewI2C blocks for that one second.
	bus := &i2ctest.Playback{Ops: []i2ctest.IO{{Addr: 0x45, W: []byte{0x30, 0x93}}, {Addr: 0x45, W: []byte{0x37, 0x81}, R: []byte{0x30, 0x00, 0x33}}, {Addr: 0x45, W: []byte{0x21, 0x30}}}, DontPanic: true}
	if _, err := NewI2C(bus, 0x45, nil); err != nil {
		t.Fatalf("NewI2C: %v", err)
	}
	bustest.AllUsed(t, bus)
}

func TestHaltStopsAndSenseRestarts(t *testing.T) {
	bus := &i2ctest.Playback{Ops: []i2ctest.IO{
		exitAuto, readID, start10Hz,
		{Addr: 0x44, W: []byte{0x30, 0x93}}, // exit continuous mode
		start10Hz,
		read(reply25C60pct),
	}, DontPanic: true}
	d, err := NewI2C(bus, DefaultAddr, fastOpts)
	if err != nil {
		t.Fatalf("NewI2C: %v", err)
	}
	if err := d.Halt(); err != nil {
		t.Fatalf("Halt: %v", err)
	}
	if _, err := d.Sense(context.Background()); err != nil {
		t.Fatalf("Sense after Halt: %v", err)
	}
	bustest.AllUsed(t, bus)
}

func TestSenseRejects(t *testing.T) {
	for _, tc := range []struct {
		name   string
		reply  []byte
		target error
		text   string
	}{
		{"temperature CRC", []byte{0x66, 0x66, 0x94, 0x99, 0x99, 0xBE}, nil, "invalid crc"},
		{"humidity CRC", []byte{0x66, 0x66, 0x93, 0x99, 0x98, 0xBE}, nil, "invalid crc"},
		// A bus with nothing on it reads all 0xFF or all 0x00; neither
		// carries a valid CRC (0xAC and 0x81 would be).
		{"all 0xFF", bytes.Repeat([]byte{0xFF}, 6), nil, "invalid crc"},
		{"all 0x00", make([]byte, 6), nil, "invalid crc"},
		// raw 0x0000 with a valid CRC is -45 °C, below the -40 °C limit.
		{"too cold", []byte{0x00, 0x00, 0x81, 0x99, 0x99, 0xBE}, sensors.ErrImplausible, "-45.00 °C"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bus := &i2ctest.Playback{Ops: []i2ctest.IO{exitAuto, readID, start10Hz, read(tc.reply)}, DontPanic: true}
			d, err := NewI2C(bus, DefaultAddr, fastOpts)
			if err != nil {
				t.Fatalf("NewI2C: %v", err)
			}
			v, err := d.Sense(context.Background())
			if err == nil || (tc.target != nil && !errors.Is(err, tc.target)) {
				t.Fatalf("Sense() = %v, %v; want a %s error", v, err, tc.name)
			}
			if !strings.Contains(err.Error(), tc.text) || !strings.HasPrefix(err.Error(), "hdc302x at 0x44 on playback: ") {
				t.Errorf("error %q should name the device and contain %q", err, tc.text)
			}
			bustest.AllUsed(t, bus)
		})
	}
}

func TestSenseReportsBusErrors(t *testing.T) {
	errNACK := errors.New("remote I/O error")
	t.Run("NACK", func(t *testing.T) {
		bus := &bustest.FailingBus{Playback: i2ctest.Playback{Ops: []i2ctest.IO{exitAuto, readID, start10Hz}, DontPanic: true}, Err: errNACK}
		d, err := NewI2C(bus, DefaultAddr, fastOpts)
		if err != nil {
			t.Fatalf("NewI2C: %v", err)
		}
		if _, err := d.Sense(context.Background()); !errors.Is(err, errNACK) {
			t.Fatalf("Sense error = %v, want the NACK", err)
		}
		bustest.AllUsed(t, &bus.Playback)
	})
	t.Run("short read", func(t *testing.T) {
		bus := &i2ctest.Playback{Ops: []i2ctest.IO{exitAuto, readID, start10Hz, read(reply25C60pct[:3])}, DontPanic: true}
		d, err := NewI2C(bus, DefaultAddr, fastOpts)
		if err != nil {
			t.Fatalf("NewI2C: %v", err)
		}
		if _, err := d.Sense(context.Background()); err == nil || !strings.Contains(err.Error(), "read: ") {
			t.Fatalf("Sense error = %v, want a read failure", err)
		}
		if bus.Count != len(bus.Ops)-1 {
			t.Errorf("used %d of %d transactions, want all but the short read", bus.Count, len(bus.Ops))
		}
	})
	t.Run("NACK on halt", func(t *testing.T) {
		bus := &bustest.FailingBus{Playback: i2ctest.Playback{Ops: []i2ctest.IO{exitAuto, readID, start10Hz}, DontPanic: true}, Err: errNACK}
		d, err := NewI2C(bus, DefaultAddr, fastOpts)
		if err != nil {
			t.Fatalf("NewI2C: %v", err)
		}
		if err := d.Halt(); !errors.Is(err, errNACK) || !strings.Contains(err.Error(), "stop measurements") {
			t.Fatalf("Halt error = %v, want the NACK", err)
		}
	})
}

func TestSenseHonoursCancelledContext(t *testing.T) {
	bus := &i2ctest.Playback{Ops: []i2ctest.IO{exitAuto, readID, start10Hz}, DontPanic: true}
	d, err := NewI2C(bus, DefaultAddr, fastOpts)
	if err != nil {
		t.Fatalf("NewI2C: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.Sense(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sense error = %v, want context.Canceled", err)
	}
	bustest.AllUsed(t, bus)
}

func TestNewI2CRejects(t *testing.T) {
	errNACK := errors.New("remote I/O error")
	t.Run("wrong address", func(t *testing.T) {
		bus := &i2ctest.Playback{DontPanic: true}
		if _, err := NewI2C(bus, 0x40, nil); err == nil || !strings.Contains(err.Error(), "0x44 to 0x47") {
			t.Fatalf("NewI2C error = %v, want the valid addresses named", err)
		}
		bustest.AllUsed(t, bus)
	})
	t.Run("unknown sample rate", func(t *testing.T) {
		bus := &i2ctest.Playback{DontPanic: true}
		if _, err := NewI2C(bus, DefaultAddr, &Opts{SampleRate: 9}); err == nil {
			t.Fatal("NewI2C accepted sample rate 9")
		}
		bustest.AllUsed(t, bus)
	})
	t.Run("no device", func(t *testing.T) {
		bus := &bustest.FailingBus{Playback: i2ctest.Playback{DontPanic: true}, Err: errNACK}
		_, err := NewI2C(bus, DefaultAddr, fastOpts)
		if !errors.Is(err, errNACK) || !strings.Contains(err.Error(), "is an HDC302x connected") {
			t.Fatalf("NewI2C error = %v, want the NACK and a hint", err)
		}
	})
}

// Datasheet section 7.4.1: each result can be read once; a second read
// gives the minimum values, raw 0x0000 for both (CRC-8 of 00 00 is 0x81).
// That is no measurement of -45 °C and 0 %RH, and says why.
func TestSecondReadOfOneResult(t *testing.T) {
	minimum := []byte{0x00, 0x00, 0x81, 0x00, 0x00, 0x81}
	bus := &i2ctest.Playback{Ops: []i2ctest.IO{exitAuto, readID, start10Hz, read(reply25C60pct), read(minimum)}, DontPanic: true}
	d, err := NewI2C(bus, DefaultAddr, fastOpts)
	if err != nil {
		t.Fatal(err)
	}
	if d.Spacing() != 100*time.Millisecond {
		t.Errorf("Spacing = %v, want the 10 Hz period", d.Spacing())
	}
	if _, err := d.Sense(context.Background()); err != nil {
		t.Fatal(err)
	}
	v, err := d.Sense(context.Background())
	if err == nil || !strings.Contains(err.Error(), "already read") {
		t.Errorf("second read of one result = %v, %v; want an error saying it was read already", v, err)
	}
	bustest.AllUsed(t, bus)
}

// Another chip at the HDC302x's addresses (an SHT4x, an INA219) is refused
// before anything is written to it.
func TestOtherChipIsRefused(t *testing.T) {
	bus := &i2ctest.Playback{Ops: []i2ctest.IO{exitAuto, {Addr: 0x44, W: []byte{0x37, 0x81}, R: []byte{0x00, 0x00, 0x81}}}, DontPanic: true}
	_, err := NewI2C(bus, DefaultAddr, fastOpts)
	if err == nil || !strings.Contains(err.Error(), "manufacturer id 0x0000 is not TI's 0x3000") {
		t.Errorf("NewI2C = %v", err)
	}
	bustest.AllUsed(t, bus)
}
