package ds18b20

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/edgepub/edgepub/sensors"
	"github.com/edgepub/edgepub/sensors/internal/bustest"
	"periph.io/x/conn/v3/onewire"
	"periph.io/x/conn/v3/onewire/onewiretest"
)

// family3b is a probe of family 3b (DS1825 or MAX31850); ParseROM computes
// the CRC of its address.
const rom3b = "3b-0000001a2b3c"

func matchROM3b(t *testing.T, cmd ...byte) []byte {
	t.Helper()
	a, err := ParseROM(rom3b)
	if err != nil {
		t.Fatal(err)
	}
	return append(binary.LittleEndian.AppendUint64([]byte{0x55}, uint64(a)), cmd...)
}

// scratchpadOf sets the CRC of a scratchpad's first eight bytes.
func scratchpadOf(b ...byte) []byte {
	return append(b[:8:8], onewire.CalcCRC(b[:8]))
}

// DS1825 datasheet, "Configuration Register": bit 7 is 0, bits 6..5 are
// R1..R0, bit 4 is 1 and bits 3..0 are the AD3..AD0 pins. A probe at 12 bits
// with its pins at 0101 reads 0x75; comparing the whole byte with the
// DS18B20's 0x7f would rewrite its EEPROM at every start.
func TestDS1825AddressPinsAreNotAResolutionChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := &onewiretest.Playback{DontPanic: true, Ops: []onewiretest.IO{
			{W: matchROM3b(t, 0xbe), R: scratchpadOf(0x90, 0x01, 0x4b, 0x46, 0x75, 0xff, 0xff, 0xff)},
			{W: matchROM3b(t, 0x44), Pull: onewire.StrongPullup},
			{W: matchROM3b(t, 0xbe), R: scratchpadOf(0x90, 0x01, 0x4b, 0x46, 0x75, 0xff, 0xff, 0xff)},
		}}
		d, err := NewOneWire(bus, rom3b, nil)
		if err != nil {
			t.Fatal(err)
		}
		if v, err := d.Sense(context.Background()); err != nil || v[Field] != 25 {
			t.Errorf("Sense = %v, %v; want 25 °C", v, err)
		}
		bustest.AllUsed(t, bus)
	})
}

// A real change of resolution keeps the pins' bits, goes to the EEPROM
// once, and is logged.
func TestDS1825ResolutionChangeIsLogged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := &onewiretest.Playback{DontPanic: true, Ops: []onewiretest.IO{
			{W: matchROM3b(t, 0xbe), R: scratchpadOf(0x90, 0x01, 0x4b, 0x46, 0x75, 0xff, 0xff, 0xff)},
			{W: matchROM3b(t, 0x4e, 0x4b, 0x46, 0x35)}, // R1R0 = 01 (10 bits), pins 0101 kept
			{W: matchROM3b(t, 0x48), Pull: onewire.StrongPullup},
		}}
		var log bytes.Buffer
		_, err := NewOneWire(bus, rom3b, &Opts{Resolution: 10, Logger: slog.New(slog.NewTextHandler(&log, nil))})
		if err != nil {
			t.Fatal(err)
		}
		bustest.AllUsed(t, bus)
		if !strings.Contains(log.String(), "EEPROM") || !strings.Contains(log.String(), "from_bits=12 to_bits=10") {
			t.Errorf("log %q does not record the EEPROM write", log.String())
		}
	})
}

// MAX31850 datasheet: configuration register bits 7..4 read 1; bytes 0..1
// hold the thermocouple temperature in 0.25 °C steps above the reserved bit
// 1 and the fault bit 0 (table 3: +1000.00 °C is 0011 1110 1000 00, +25.00
// is 0000 0001 1001 00); byte 2 bits 0..2 are open circuit, short to GND,
// short to VDD. It has no resolution to write.
func TestMAX31850(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hot := scratchpadOf(0x80, 0x3e, 0x00, 0x19, 0xf5, 0xff, 0xff, 0xff) // 1000 °C, pins 0101
		open := scratchpadOf(0x01, 0x00, 0x01, 0x19, 0xf5, 0xff, 0xff, 0xff)
		bus := &onewiretest.Playback{DontPanic: true, Ops: []onewiretest.IO{
			{W: matchROM3b(t, 0xbe), R: hot},
			{W: matchROM3b(t, 0x44), Pull: onewire.StrongPullup},
			{W: matchROM3b(t, 0xbe), R: hot},
			{W: matchROM3b(t, 0x44), Pull: onewire.StrongPullup},
			{W: matchROM3b(t, 0xbe), R: open},
		}}
		d, err := NewOneWire(bus, rom3b, nil)
		if err != nil {
			t.Fatal(err)
		}
		if v, err := d.Sense(context.Background()); err != nil || v[Field] != 1000 {
			t.Errorf("Sense = %v, %v; want 1000 °C", v, err)
		}
		_, err = d.Sense(context.Background())
		if err == nil || !strings.Contains(err.Error(), "open") || errors.Is(err, sensors.ErrImplausible) {
			t.Errorf("an open thermocouple: %v", err)
		}
		bustest.AllUsed(t, bus)

		// Through the kernel, whose t= may not know the chip.
		line := func(s []byte) string { return fmt.Sprintf("% x", s) }
		v, err := senseSysfsROM(t, rom3b, line(hot)+" : crc="+fmt.Sprintf("%02x", hot[8])+" YES\n"+line(hot)+" t=62000\n")
		if err != nil || v[Field] != 1000 {
			t.Errorf("sysfs: %v, %v; want 1000 °C", v, err)
		}
		_, err = senseSysfsROM(t, rom3b, line(open)+" : crc="+fmt.Sprintf("%02x", open[8])+" YES\n"+line(open)+" t=0\n")
		if err == nil || !strings.Contains(err.Error(), "open") {
			t.Errorf("sysfs, open thermocouple: %v", err)
		}
	})
}

func senseSysfsROM(t *testing.T, rom, w1Slave string) (sensors.Values, error) {
	t.Helper()
	root := fakeW1(t, map[string]string{rom + "/w1_slave": w1Slave})
	d, err := NewSysfs(rom, &Opts{SysfsRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	return d.Sense(context.Background())
}
