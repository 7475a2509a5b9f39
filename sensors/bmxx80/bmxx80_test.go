package bmxx80

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/edgepub/edgepub/sensors"
	"github.com/edgepub/edgepub/sensors/internal/bustest"
	"periph.io/x/conn/v3/conntest"
	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/spi/spitest"
)

// The BMP280 datasheet's worked compensation example:
// dig_T1..T3 and dig_P1..P9 as below, adc_T = 519888 and adc_P = 415148
// give T = 25.08 °C and p = 100653.27 Pa.
var (
	bmp280Calibration = littleEndianWords(
		27504, 26435, -1000, // dig_T1..T3
		36477, -10685, 3024, 2855, 140, -7, 15500, -14600, 6000, // dig_P1..P9
		0, // 0xA0 reserved, 0xA1 dig_H1 (BME280 only)
	)
	// adc_P = 0x655AC and adc_T = 0x7EED0, as 20-bit values in registers
	// 0xF7..0xFC (msb, lsb, xlsb<<4).
	bmp280DatasheetADC = []byte{0x65, 0x5A, 0xC0, 0x7E, 0xED, 0x00}
)

// littleEndianWords lays out calibration words the way the BMx280 stores
// them in registers 0x88..0xA1.
func littleEndianWords(words ...int) []byte {
	b := make([]byte, 0, 2*len(words))
	for _, w := range words {
		b = binary.LittleEndian.AppendUint16(b, uint16(int16(w)))
	}
	return b
}

// bmp280Ops is the I²C traffic of NewI2C then one Sense with DefaultOpts
// (O1x everywhere: ctrl_meas 0x24 asleep, 0x25 forced; config 0xA0).
func bmp280Ops(adc []byte) []i2ctest.IO {
	return []i2ctest.IO{
		{Addr: 0x76, W: []byte{0xD0}, R: []byte{0x58}},
		{Addr: 0x76, W: []byte{0x88}, R: bmp280Calibration},
		{Addr: 0x76, W: []byte{0xF4, 0x24, 0xF5, 0xA0, 0xF4, 0x24}},
		{Addr: 0x76, W: []byte{0xF4, 0x25}},
		{Addr: 0x76, W: []byte{0xF3}, R: []byte{0x00}},
		{Addr: 0x76, W: []byte{0xF7}, R: adc},
	}
}

func near(got, want, tolerance float64) bool { return math.Abs(got-want) <= tolerance }

func TestSenseBMP280DatasheetExample(t *testing.T) {
	bus := &i2ctest.Playback{Ops: bmp280Ops(bmp280DatasheetADC), DontPanic: true}
	d, err := NewI2C(bus, 0x76, nil)
	if err != nil {
		t.Fatalf("NewI2C: %v", err)
	}
	if d.Model() != "BMP280" || d.String() != "bmp280 at 0x76 on playback" {
		t.Errorf("Model() = %q, String() = %q", d.Model(), d.String())
	}
	v, err := d.Sense(context.Background())
	if err != nil {
		t.Fatalf("Sense: %v", err)
	}
	// The datasheet gives 25.08 °C and 100653.27 Pa; periph's 64-bit integer
	// routine gives exactly 25.08 °C and 25767233/256 = 100653.25 Pa.
	if len(v) != 2 || !near(v["temperature_c"], 25.08, 1e-9) || !near(v["pressure_hpa"], 1006.5327, 0.001) {
		t.Errorf("Sense() = %v, want temperature_c 25.08, pressure_hpa 1006.5327 and no humidity", v)
	}
	bustest.AllUsed(t, bus)
}

func TestSenseBMP280OverSPI(t *testing.T) {
	// The same datasheet example framed for SPI: every transfer carries a
	// leading register byte, reads have bit 7 set (all registers used are
	// ≥ 0x80) and writes have it cleared (0xF4 → 0x74).
	read := func(reg byte, data []byte) conntest.IO {
		return conntest.IO{W: append([]byte{reg}, make([]byte, len(data))...), R: append([]byte{0}, data...)}
	}
	port := &spitest.Playback{Playback: conntest.Playback{Ops: []conntest.IO{
		read(0xD0, []byte{0x58}),
		read(0x88, bmp280Calibration),
		{W: []byte{0x74, 0x24, 0x75, 0xA0, 0x74, 0x24}},
		{W: []byte{0x74, 0x25}},
		read(0xF3, []byte{0x00}),
		read(0xF7, bmp280DatasheetADC),
	}, DontPanic: true}}
	d, err := NewSPI(port, nil)
	if err != nil {
		t.Fatalf("NewSPI: %v", err)
	}
	v, err := d.Sense(context.Background())
	if err != nil {
		t.Fatalf("Sense: %v", err)
	}
	if !near(v["temperature_c"], 25.08, 1e-9) || !near(v["pressure_hpa"], 1006.5327, 0.001) {
		t.Errorf("Sense() = %v, want temperature_c 25.08 and pressure_hpa 1006.5327", v)
	}
	if d.String() != "bmp280 on playback" {
		t.Errorf("String() = %q", d.String())
	}
	bustest.AllUsed(t, port)
}

func TestSenseBME280RecordedTraffic(t *testing.T) {
	// Traffic and expected values reused from periph.io/x/devices/v3
	// bmxx80/bmx280_test.go (TestI2CSenseBME280_success), recorded from a
	// real BME280 with periph's O4x defaults (ctrl_meas 0x6C, ctrl_hum 0x03).
	// Copyright 2016 The Periph Authors, Apache License 2.0.
	bus := &i2ctest.Playback{Ops: []i2ctest.IO{
		{Addr: 0x76, W: []byte{0xd0}, R: []byte{0x60}},
		{Addr: 0x76, W: []byte{0x88}, R: []byte{0x10, 0x6e, 0x6c, 0x66, 0x32, 0x0, 0x5d, 0x95, 0xb8, 0xd5, 0xd0, 0xb, 0x77, 0x1e, 0x9d, 0xff, 0xf9, 0xff, 0xac, 0x26, 0xa, 0xd8, 0xbd, 0x10, 0x0, 0x4b}},
		{Addr: 0x76, W: []byte{0xe1}, R: []byte{0x6e, 0x1, 0x0, 0x13, 0x5, 0x0, 0x1e}},
		{Addr: 0x76, W: []byte{0xf4, 0x6c, 0xf2, 0x3, 0xf5, 0xa0, 0xf4, 0x6c}},
		{Addr: 0x76, W: []byte{0xF4, 0x6d}},
		{Addr: 0x76, W: []byte{0xF3}, R: []byte{8}},
		{Addr: 0x76, W: []byte{0xF3}, R: []byte{0}},
		{Addr: 0x76, W: []byte{0xf7}, R: []byte{0x4a, 0x52, 0xc0, 0x80, 0x96, 0xc0, 0x7a, 0x76}},
	}, DontPanic: true}
	d, err := NewI2C(bus, 0x76, &Opts{Temperature: O4x, Pressure: O4x, Humidity: O4x})
	if err != nil {
		t.Fatalf("NewI2C: %v", err)
	}
	v, err := d.Sense(context.Background())
	if err != nil {
		t.Fatalf("Sense: %v", err)
	}
	// periph's expectations: 23720 m°C, 100942695312500 nPa, 6530560 in
	// units of 0.00001 %RH.
	if len(v) != 3 || !near(v["temperature_c"], 23.72, 1e-9) || !near(v["pressure_hpa"], 1009.426953125, 1e-9) || !near(v["humidity_pct"], 65.3056, 1e-9) {
		t.Errorf("Sense() = %v, want temperature_c 23.72, pressure_hpa 1009.426953125, humidity_pct 65.3056", v)
	}
	bustest.AllUsed(t, bus)
}

func TestSenseBMP180DatasheetExample(t *testing.T) {
	// The BMP180 datasheet's "Calculating pressure and temperature" example:
	// AC1..MD as below, UT = 27898 and UP = 23843 (oss 0) give 15.0 °C and
	// 69964 Pa. The calibration is stored big-endian from 0xAA.
	calibration := binary.BigEndian.AppendUint16(nil, 408)
	for _, w := range []int{-72, -14383, 32741, 32757, 23153, 6190, 4, -32768, -8711, 2868} {
		calibration = binary.BigEndian.AppendUint16(calibration, uint16(int16(w)))
	}
	bus := &i2ctest.Playback{Ops: []i2ctest.IO{
		{Addr: 0x77, W: []byte{0xD0}, R: []byte{0x55}},
		{Addr: 0x77, W: []byte{0xAA}, R: calibration},
		{Addr: 0x77, W: []byte{0xF4, 0x2E}},                     // start temperature
		{Addr: 0x77, W: []byte{0xF6}, R: []byte{0x6C, 0xFA}},    // UT = 27898
		{Addr: 0x77, W: []byte{0xF4, 0x34}},                     // start pressure, oss 0
		{Addr: 0x77, W: []byte{0xF6}, R: []byte{0x5D, 0x23, 0}}, // UP = 23843
	}, DontPanic: true}
	d, err := NewI2C(bus, 0x77, nil)
	if err != nil {
		t.Fatalf("NewI2C: %v", err)
	}
	v, err := d.Sense(context.Background())
	if err != nil {
		t.Fatalf("Sense: %v", err)
	}
	if d.Model() != "BMP180" || len(v) != 2 || !near(v["temperature_c"], 15.0, 1e-9) || !near(v["pressure_hpa"], 699.64, 1e-9) {
		t.Errorf("%s: Sense() = %v, want temperature_c 15.0 and pressure_hpa 699.64", d.Model(), v)
	}
	bustest.AllUsed(t, bus)
}

func TestPressureOffLeavesItOut(t *testing.T) {
	ops := bmp280Ops(bmp280DatasheetADC)
	// ctrl_meas with pressure skipped: 0x20 asleep, 0x21 forced.
	ops[2].W = []byte{0xF4, 0x20, 0xF5, 0xA0, 0xF4, 0x20}
	ops[3].W = []byte{0xF4, 0x21}
	bus := &i2ctest.Playback{Ops: ops, DontPanic: true}
	d, err := NewI2C(bus, 0x76, &Opts{Temperature: O1x})
	if err != nil {
		t.Fatalf("NewI2C: %v", err)
	}
	v, err := d.Sense(context.Background())
	if err != nil {
		t.Fatalf("Sense: %v", err)
	}
	if _, ok := v["pressure_hpa"]; ok || len(v) != 1 {
		t.Errorf("Sense() = %v, want only temperature_c", v)
	}
	bustest.AllUsed(t, bus)
}

func TestSenseRejectsImplausibleValues(t *testing.T) {
	// Raw values run through the datasheet calibration (worked out with
	// the same integer formulas): each lands outside the sensor's range.
	for _, tc := range []struct {
		name string
		adc  []byte
		text string
	}{
		{"dead bus, all 0xFF", []byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, "187.55 °C"},
		{"dead bus, all 0x00", []byte{0, 0, 0, 0, 0, 0}, "-140.88 °C"},
		{"too cold", []byte{0x65, 0x5A, 0xC0, 0x20, 0x00, 0x00}, "-98.46 °C"},
		{"pressure too high", []byte{0x00, 0x00, 0x00, 0x7E, 0xED, 0x00}, "1731.99 hPa"},
		{"pressure wraps negative", []byte{0xFF, 0xFF, 0xF0, 0x7E, 0xED, 0x00}, "hPa outside"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bus := &i2ctest.Playback{Ops: bmp280Ops(tc.adc), DontPanic: true}
			d, err := NewI2C(bus, 0x76, nil)
			if err != nil {
				t.Fatalf("NewI2C: %v", err)
			}
			v, err := d.Sense(context.Background())
			if !errors.Is(err, sensors.ErrImplausible) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("Sense() = %v, %v; want ErrImplausible mentioning %q", v, err, tc.text)
			}
			bustest.AllUsed(t, bus)
		})
	}
}

func TestSenseReportsBusErrors(t *testing.T) {
	errNACK := errors.New("remote I/O error")
	t.Run("NACK while waiting for the conversion", func(t *testing.T) {
		bus := &bustest.FailingBus{Playback: i2ctest.Playback{Ops: bmp280Ops(nil)[:4], DontPanic: true}, Err: errNACK}
		d, err := NewI2C(bus, 0x76, nil)
		if err != nil {
			t.Fatalf("NewI2C: %v", err)
		}
		_, err = d.Sense(context.Background())
		// periph flattens the cause with %v, so only its text survives.
		if err == nil || !strings.HasPrefix(err.Error(), "bmp280 at 0x76 on playback: read: ") || !strings.Contains(err.Error(), errNACK.Error()) {
			t.Fatalf("Sense error = %v, want a read failure naming the device and the NACK", err)
		}
		bustest.AllUsed(t, &bus.Playback)
	})
	t.Run("short read", func(t *testing.T) {
		// The recording has 3 of the 6 measurement bytes, so the playback
		// refuses the read.
		bus := &i2ctest.Playback{Ops: bmp280Ops(bmp280DatasheetADC[:3]), DontPanic: true}
		d, err := NewI2C(bus, 0x76, nil)
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
}

func TestSenseHonoursCancelledContext(t *testing.T) {
	bus := &i2ctest.Playback{Ops: bmp280Ops(nil)[:3], DontPanic: true}
	d, err := NewI2C(bus, 0x76, nil)
	if err != nil {
		t.Fatalf("NewI2C: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.Sense(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sense error = %v, want context.Canceled", err)
	}
	bustest.AllUsed(t, bus) // nothing sent after construction
}

func TestNewRejects(t *testing.T) {
	errNACK := errors.New("remote I/O error")
	t.Run("wrong address", func(t *testing.T) {
		bus := &i2ctest.Playback{DontPanic: true}
		if _, err := NewI2C(bus, 0x44, nil); err == nil || !strings.Contains(err.Error(), "0x76 or 0x77") {
			t.Fatalf("NewI2C error = %v, want the valid addresses named", err)
		}
		bustest.AllUsed(t, bus)
	})
	t.Run("no device", func(t *testing.T) {
		bus := &bustest.FailingBus{Playback: i2ctest.Playback{DontPanic: true}, Err: errNACK}
		_, err := NewI2C(bus, 0x77, nil)
		if err == nil || !strings.HasPrefix(err.Error(), "bmxx80 at 0x77 on playback: ") || !strings.Contains(err.Error(), "is a BMP180, BMP280 or BME280 connected") {
			t.Fatalf("NewI2C error = %v, want the address and a hint", err)
		}
	})
	t.Run("unknown chip", func(t *testing.T) {
		bus := &i2ctest.Playback{Ops: []i2ctest.IO{{Addr: 0x76, W: []byte{0xD0}, R: []byte{0x61}}}, DontPanic: true}
		if _, err := NewI2C(bus, 0x76, nil); err == nil || !strings.Contains(err.Error(), "chip id 61") {
			t.Fatalf("NewI2C error = %v, want the unexpected chip id", err)
		}
		bustest.AllUsed(t, bus)
	})
	t.Run("temperature off on a BMx280", func(t *testing.T) {
		bus := &i2ctest.Playback{Ops: []i2ctest.IO{{Addr: 0x76, W: []byte{0xD0}, R: []byte{0x60}}}, DontPanic: true}
		if _, err := NewI2C(bus, 0x76, &Opts{Pressure: O1x}); err == nil {
			t.Fatal("NewI2C accepted Temperature: Off")
		}
		bustest.AllUsed(t, bus)
	})
}
