package ds18b20

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/edgepub/edgepub/sensors/internal/pause"
	"periph.io/x/conn/v3/onewire"
)

// Function commands, datasheet table "DS18B20 function command set".
const (
	cmdConvertT         = 0x44
	cmdReadScratchpad   = 0xbe
	cmdWriteScratchpad  = 0x4e
	cmdCopyScratchpad   = 0x48
	eepromWriteDuration = 10 * time.Millisecond
)

// NewOneWire opens the probe with the given ROM id on a periph 1-Wire bus,
// typically a DS2482 bridge from periph.io/x/devices/v3/ds248x. It reads the
// scratchpad to check that the probe answers and, if its resolution differs
// from opts.Resolution, sets it and copies it to the EEPROM, keeping the
// alarm bytes as they are.
func NewOneWire(bus onewire.Bus, rom string, opts *Opts) (*Dev, error) {
	o := opts.withDefaults()
	if o.Resolution < 9 || o.Resolution > 12 {
		return nil, fmt.Errorf("ds18b20 %s: resolution %d bits is out of range: choose 9..12", rom, o.Resolution)
	}
	a, err := ParseROM(rom)
	if err != nil {
		return nil, fmt.Errorf("ds18b20: %w", err)
	}
	rom = FormatROM(a)
	if !isThermometer(byte(a)) {
		return nil, fmt.Errorf("ds18b20 %s: family 0x%02x is not a DS18B20-type thermometer (28, 22 or 3b)", rom, byte(a))
	}
	p := &probe{dev: onewire.Dev{Bus: bus, Addr: a}, bits: o.Resolution, log: o.Logger}
	name := fmt.Sprintf("ds18b20 %s on %s", rom, bus)
	if err := p.setResolution(context.Background(), name); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &Dev{name: name, readCelsius: p.read}, nil
}

// Discover lists the ROM ids of the thermometers found by a 1-Wire search on
// bus, sorted.
func Discover(bus onewire.Bus) ([]string, error) {
	addrs, err := bus.Search(false)
	if err != nil {
		return nil, fmt.Errorf("searching the 1-wire bus %s: %w", bus, err)
	}
	var roms []string
	for _, a := range addrs {
		if isThermometer(byte(a)) {
			roms = append(roms, FormatROM(a))
		}
	}
	slices.Sort(roms)
	return roms, nil
}

// probe talks to one thermometer on a periph 1-Wire bus.
type probe struct {
	dev  onewire.Dev
	bits int
	log  *slog.Logger
	// thermocouple is set for a MAX31850, whose resolution is fixed.
	thermocouple bool
}

// read starts a conversion, waits for it and reads the result. The strong
// pull-up powers a parasite-powered probe through the conversion.
func (p *probe) read(ctx context.Context) (float64, error) {
	if err := p.dev.TxPower([]byte{cmdConvertT}, nil); err != nil {
		return 0, fmt.Errorf("starting a conversion: %w", err)
	}
	if err := pause.For(ctx, conversionTime(p.bits)); err != nil {
		return 0, fmt.Errorf("waiting for the conversion: %w", err)
	}
	spad, err := p.readScratchpad()
	if err != nil {
		return 0, err
	}
	c, err := decodeScratchpad(spad, p.bits)
	if err != nil {
		return 0, err
	}
	return c, checkPlausible(c, isMAX31850(spad))
}

// setResolution writes the resolution bits of the configuration register
// (6 and 5) if they differ from bits, and copies them to the EEPROM, which
// wears with every write. The other bits are left alone: on a DS1825 the
// low four are its address pins. A MAX31850 (family 3b, bit 7 set) has no
// resolution to set.
func (p *probe) setResolution(ctx context.Context, name string) error {
	spad, err := p.readScratchpad()
	if err != nil {
		return err
	}
	if isMAX31850(spad) {
		p.thermocouple = true
		return nil
	}
	want := byte(p.bits-9) << 5
	if spad[4]&resolutionBits == want {
		return nil
	}
	cfg := spad[4]&^resolutionBits | want
	if err := p.dev.Tx([]byte{cmdWriteScratchpad, spad[2], spad[3], cfg}, nil); err != nil {
		return fmt.Errorf("setting the resolution: %w", err)
	}
	if err := p.dev.TxPower([]byte{cmdCopyScratchpad}, nil); err != nil {
		return fmt.Errorf("saving the resolution to eeprom: %w", err)
	}
	p.log.Info("set the probe's resolution and saved it to its EEPROM", "probe", name,
		"from_bits", 9+int(spad[4]&resolutionBits>>5), "to_bits", p.bits)
	return pause.For(ctx, eepromWriteDuration)
}

// readScratchpad reads and checks the 9 bytes of scratchpad, CRC included.
func (p *probe) readScratchpad() ([]byte, error) {
	spad := make([]byte, 9)
	if err := p.dev.Tx([]byte{cmdReadScratchpad}, spad); err != nil {
		return nil, fmt.Errorf("reading the scratchpad: %w", err)
	}
	if allBytes(spad, 0xff) {
		return nil, errors.New("no answer from the probe: check the rom id and the wiring")
	}
	// All zeros passes the CRC (the CRC of zeros is zero) yet is what a probe
	// that holds the data line low returns.
	if allBytes(spad, 0) {
		return nil, errors.New("scratchpad is all zeros: the probe is not answering (check the data line)")
	}
	if !onewire.CheckCRC(spad) {
		return nil, fmt.Errorf("scratchpad crc mismatch (% x): check the wiring and the pull-up resistor", spad)
	}
	return spad, nil
}

// resolutionBits are R1 and R0 of the configuration register.
const resolutionBits = 0x60

// isMAX31850 tells a MAX31850 thermocouple converter, which shares family
// 3b with the DS1825, by its configuration register: bits 7..4 read 1
// (MAX31850 datasheet, "Configuration Register"), where a DS18B20's and a
// DS1825's bit 7 is always 0.
func isMAX31850(spad []byte) bool { return spad[4]&0x80 != 0 }

// decodeScratchpad returns the temperature in a checked scratchpad: a
// DS18B20-type's at bits resolution, or a MAX31850's, whose fault bit
// (byte 0, bit 0) is reported with its cause (byte 2, bits 0..2).
func decodeScratchpad(spad []byte, bits int) (float64, error) {
	if !isMAX31850(spad) {
		return decodeCelsius(spad, bits), nil
	}
	if spad[0]&1 != 0 {
		var causes []string
		for bit, cause := range []string{"the thermocouple is open (not connected)", "the thermocouple is shorted to GND", "the thermocouple is shorted to VDD"} {
			if spad[2]&(1<<bit) != 0 {
				causes = append(causes, cause)
			}
		}
		if len(causes) == 0 {
			causes = append(causes, "no cause given")
		}
		return 0, fmt.Errorf("max31850 reports a fault: %s: check the thermocouple's wiring", strings.Join(causes, ", "))
	}
	// 14 bits of 0.25 °C above the reserved bit 1 and the fault bit 0.
	raw := int16(uint16(spad[1])<<8|uint16(spad[0])) &^ 3
	return float64(raw) / 16, nil
}

// decodeCelsius reads the temperature register, a signed count of 1/16 °C
// whose lowest bits are undefined below 12-bit resolution.
func decodeCelsius(spad []byte, bits int) float64 {
	raw := int16(uint16(spad[1])<<8 | uint16(spad[0]))
	raw &^= 1<<(12-bits) - 1
	return float64(raw) / 16
}

// conversionTime is the datasheet's maximum tCONV (750 ms at 12 bits, halved
// per bit less), rounded up as periph does.
func conversionTime(bits int) time.Duration {
	return (94 << (bits - 9)) * time.Millisecond
}

// allBytes reports whether every byte of b equals v.
func allBytes(b []byte, v byte) bool {
	for _, x := range b {
		if x != v {
			return false
		}
	}
	return true
}
