package catalog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/edgepub/edgepub/sensors/ds18b20"
	"github.com/edgepub/edgepub/sensors/internal/pause"
	"github.com/edgepub/edgepub/sensors/internal/sensirion"
	"periph.io/x/conn/v3/i2c"
)

// Found is a device that answered during a scan.
type Found struct {
	// Addr is the device's I²C address; 0 for a 1-Wire probe.
	Addr uint16
	// ROM is a 1-Wire probe's id; empty for an I²C device.
	ROM string
	// Types are the catalog types that fit, the most likely first. Empty if
	// edgepub has no driver for what answered.
	Types []string
	// Chip names the chip when the scan identified it, such as "BME280".
	Chip string
	// Note explains an ambiguity or what to do with the device.
	Note string
	// Path is the folder of a device the kernel drives (IIO or hwmon).
	Path string
	// Match is that device's driver name, when it is the only one of its
	// kind; otherwise the configuration needs Path.
	Match string
}

// Scan looks for devices at every address from 0x03 to 0x77 on bus and names
// what it finds. Stop anything else that uses the bus first: a sensor that a
// running edgepub keeps busy may not answer.
//
// The method, like i2cdetect's: every address gets a one-byte read, which
// changes no register (unlike the SMBus quick write i2cdetect uses by
// default, which corrupts some EEPROMs; a read can hang write-only clock
// chips at 0x69, which a Raspberry Pi does not have). Sensirion sensors and
// the HDC302x do not acknowledge a read when they hold no result, so where
// one of them can sit and the read went unanswered, Scan sends the chip's
// read-serial-number command (an SHT3x's read-status), which changes no
// setting; an AM2320 sleeps and is woken first. Where a chip has an identification register (the Bosch
// chip id, the MCP9808's manufacturer id, the TSL2591's id) Scan reads it; at 0x48..0x4b it
// reads the configuration register to tell a TMP102 from an ADS1x15, which
// remains a guess.
func Scan(ctx context.Context, bus i2c.Bus) ([]Found, error) {
	var found []Found
	for addr := uint16(0x03); addr <= 0x77; addr++ {
		if err := ctx.Err(); err != nil {
			return found, err
		}
		var b [1]byte
		if bus.Tx(addr, nil, b[:]) == nil {
			found = append(found, identify(bus, addr))
			continue
		}
		f, ok, err := identifyQuiet(ctx, bus, addr)
		if err != nil {
			return found, err
		}
		if ok {
			found = append(found, f)
		}
	}
	return found, nil
}

// identify names a device that acknowledged a read.
func identify(bus i2c.Bus, addr uint16) Found {
	f := Found{Addr: addr, Types: typesAt(addr)}
	switch {
	case addr == 0x76 || addr == 0x77:
		identifyBosch(bus, &f)
	case addr >= 0x18 && addr <= 0x1f:
		identifyMCP9808OrBridge(bus, &f)
	case addr >= 0x48 && addr <= 0x4b:
		identifyTMP102OrADC(bus, &f)
	case addr >= 0x44 && addr <= 0x47:
		f.Types = preferFirst(f.Types, "ina219")
		f.Note = "acknowledged a plain read, as an INA219 does and an SHT4x or HDC302x does not"
	case addr == 0x29:
		identifyTSL2591(bus, &f)
	case addr == 0x5c:
		f.Types = preferFirst(f.Types, "bh1750")
		f.Note = "acknowledged a plain read, as a BH1750 does and a sleeping AM2320 does not"
	case addr == 0x5a || addr == 0x5b:
		f.Chip, f.Note = "CCS811?", "probably a CCS811 air quality sensor, which edgepub does not support (it needs I²C clock stretching, which the Raspberry Pi gets wrong); an SGP30 is a good replacement"
	case len(f.Types) == 0:
		f.Note = "no driver in edgepub knows this address"
	case len(f.Types) > 1:
		f.Note = "several chips use this address: check the board"
	}
	return f
}

// identifyBosch reads the chip id register of a BMP180/BMP280/BME280.
func identifyBosch(bus i2c.Bus, f *Found) {
	var id [1]byte
	if err := bus.Tx(f.Addr, []byte{0xd0}, id[:]); err != nil {
		f.Note = fmt.Sprintf("reading the chip id failed: %v", err)
		return
	}
	if ti, ok := acceptingID(f.Addr, uint16(id[0])); ok {
		f.Chip, f.Types = strings.TrimPrefix(ti.Chip, "Bosch "), []string{ti.Name}
		return
	}
	f.Types, f.Note = nil, fmt.Sprintf("chip id %#02x is none that edgepub's BMP180, BMP280 and BME280 drivers accept", id[0])
}

// identifyTSL2591 reads the ID register (0x12, through the command byte
// 0xA0) of what answers at 0x29, where a TSL2561, a TCS34725 or a VL53L0X
// can sit too.
func identifyTSL2591(bus i2c.Bus, f *Found) {
	var id [1]byte
	if err := bus.Tx(f.Addr, []byte{0xA0 | 0x12}, id[:]); err != nil {
		f.Types, f.Note = nil, fmt.Sprintf("reading the TSL2591's id register failed (%v): another chip at 0x29, such as a TSL2561, TCS34725 or VL53L0X, which edgepub does not read", err)
		return
	}
	if ti, ok := acceptingID(f.Addr, uint16(id[0])); ok {
		f.Chip, f.Types = strings.TrimPrefix(ti.Chip, "ams "), []string{ti.Name}
		return
	}
	f.Types, f.Note = nil, fmt.Sprintf("id register %#02x is not the TSL2591's 0x50: another chip at 0x29, such as a TSL2561, TCS34725 or VL53L0X, which edgepub does not read", id[0])
}

// acceptingID returns the type that can sit at addr and whose driver
// accepts the identification value id.
func acceptingID(addr, id uint16) (TypeInfo, bool) {
	for _, ti := range Types() {
		if slices.Contains(ti.Addresses, addr) && slices.Contains(ti.ChipIDs, id) {
			return ti, true
		}
	}
	return TypeInfo{}, false
}

// identifyMCP9808OrBridge tells an MCP9808 by its manufacturer id; at
// 0x18..0x1b anything else is taken for a DS2482 1-Wire bridge.
func identifyMCP9808OrBridge(bus i2c.Bus, f *Found) {
	// The driver checks the manufacturer id (register 6) and the device
	// id (the high byte of register 7, 0x04 in the datasheet's table 5-1).
	var id, dev [2]byte
	if bus.Tx(f.Addr, []byte{0x06}, id[:]) == nil && bus.Tx(f.Addr, []byte{0x07}, dev[:]) == nil && dev[0] == 0x04 {
		if ti, ok := acceptingID(f.Addr, uint16(id[0])<<8|uint16(id[1])); ok {
			f.Chip, f.Types = strings.TrimPrefix(ti.Chip, "Microchip "), []string{ti.Name}
			return
		}
	}
	switch {
	case f.Addr <= 0x19:
		f.Chip, f.Types = "DS2482?", []string{"ds18b20"}
		f.Note = "probably a DS2482 1-Wire bridge: configure each probe behind it as type ds18b20 with bridge ds2482, this bus and address, and the probe's rom"
		return
	case f.Addr <= 0x1b:
		f.Chip, f.Types = "DS2482?", nil
		f.Note = "probably a DS2482 1-Wire bridge, at an address periph's ds248x driver refuses: wire AD1 low to move it to 0x18 or 0x19"
		return
	}
	f.Types, f.Note = nil, "not an MCP9808 (wrong manufacturer id) and no other driver knows this address"
}

// identifyTMP102OrADC guesses from the configuration register (pointer 1):
// a TMP102's low four bits are always 0, an ADS1x15's comparator queue bits
// read 11 as long as the comparator is off, as at power-on and with
// edgepub's driver.
func identifyTMP102OrADC(bus i2c.Bus, f *Found) {
	var r [2]byte
	if err := bus.Tx(f.Addr, []byte{0x01}, r[:]); err != nil {
		f.Note = fmt.Sprintf("reading the configuration register failed (%v): a TMP102, an ADS1115/ADS1015 or an INA219; check the board", err)
		return
	}
	cfg := uint16(r[0])<<8 | uint16(r[1])
	switch {
	case cfg&0x000f == 0x0003:
		f.Chip, f.Types = "ADS1x15?", []string{"ads1115", "ads1015"}
		f.Note = fmt.Sprintf("an ADS1115 or ADS1015 going by its configuration register (%#04x); a read cannot tell the two apart: check the board", cfg)
	case cfg&0x600f == 0x6000:
		f.Chip, f.Types = "TMP102?", []string{"tmp102"}
		f.Note = fmt.Sprintf("a TMP102 going by its configuration register (%#04x); an INA219 can use this address too", cfg)
	default:
		f.Note = fmt.Sprintf("configuration register %#04x fits neither a TMP102 nor an ADS1x15 at rest: maybe an INA219; check the board", cfg)
	}
}

// identifyQuiet asks the chips that do not acknowledge a plain read for
// their serial number, at the addresses where they can sit.
func identifyQuiet(ctx context.Context, bus i2c.Bus, addr uint16) (Found, bool, error) {
	f := Found{Addr: addr}
	switch {
	case addr >= 0x44 && addr <= 0x47:
		w, err := commandWords(ctx, bus, addr, []byte{0x37, 0x81}, 0, 1)
		if ti, ok := acceptingID(addr, firstWord(w)); err == nil && ok {
			f.Chip, f.Types = "HDC302x", []string{ti.Name}
			return f, true, nil
		} else if isContextErr(err) {
			return f, false, err
		}
		if addr <= 0x46 {
			if _, err := commandWords(ctx, bus, addr, []byte{0x89}, 10*time.Millisecond, 2); err == nil {
				f.Chip, f.Types = "SHT4x", []string{"sht4x"}
				return f, true, nil
			} else if isContextErr(err) {
				return f, false, err
			}
		}
		// An SHT3x has no serial number command; its status register
		// (0xF32D, datasheet table 17) reads without changing anything.
		if addr <= 0x45 {
			if _, err := commandWords(ctx, bus, addr, []byte{0xF3, 0x2D}, 0, 1); err == nil {
				f.Chip, f.Types = "SHT3x", []string{"sht3x"}
				return f, true, nil
			} else if isContextErr(err) {
				return f, false, err
			}
		}
	case addr == 0x58:
		// The driver accepts the product type (the feature set's top
		// four bits) of an SGP30 only, not an SGPC3's at the same address.
		w, err := commandWords(ctx, bus, addr, []byte{0x20, 0x2f}, 10*time.Millisecond, 1)
		if isContextErr(err) {
			return f, false, err
		}
		if err == nil {
			if ti, ok := acceptingID(addr, w[0]>>12); ok {
				f.Chip, f.Types = "SGP30", []string{ti.Name}
			} else {
				f.Note = fmt.Sprintf("a Sensirion gas sensor of product type %d, not an SGP30 (0), which is all edgepub reads at 0x58", w[0]>>12)
			}
			return f, true, nil
		}
	case addr == 0x62:
		if _, err := commandWords(ctx, bus, addr, []byte{0x36, 0x82}, time.Millisecond, 3); err == nil {
			f.Chip, f.Types = "SCD4x", []string{"scd4x"}
			return f, true, nil
		} else if isContextErr(err) {
			return f, false, err
		}
	case addr == 0x5c:
		// The AM2320 sleeps until its address wakes it, which it does
		// not acknowledge; awake, it answers a read of its registers.
		_ = bus.Tx(addr, []byte{0x00}, nil)
		if err := pause.For(ctx, 10*time.Millisecond); err != nil { // as the am2320 driver waits
			return f, false, err
		}
		if bus.Tx(addr, []byte{0x03, 0x00, 0x04}, nil) == nil {
			if err := pause.For(ctx, 2*time.Millisecond); err != nil {
				return f, false, err
			}
			var r [8]byte
			_ = bus.Tx(addr, nil, r[:])
			f.Chip, f.Types = "AM2320", []string{"am2320"}
			return f, true, nil
		}
	}
	return f, false, nil
}

// firstWord is w[0], or 0 if w is empty.
func firstWord(w []uint16) uint16 {
	if len(w) == 0 {
		return 0
	}
	return w[0]
}

// commandWords sends a Sensirion-style command to addr, waits, and reads n
// words with their CRCs.
func commandWords(ctx context.Context, bus i2c.Bus, addr uint16, cmd []byte, wait time.Duration, n int) ([]uint16, error) {
	return sensirion.ReadWords(ctx, &i2c.Dev{Bus: bus, Addr: addr}, pause.For, cmd, wait, n)
}

// preferFirst moves name to the front of types.
func preferFirst(types []string, name string) []string {
	out := []string{name}
	for _, t := range types {
		if t != name {
			out = append(out, t)
		}
	}
	return out
}

// typesAt lists the catalog types that can sit at addr.
func typesAt(addr uint16) []string {
	var names []string
	for _, ti := range Types() {
		if slices.Contains(ti.Addresses, addr) {
			names = append(names, ti.Name)
		}
	}
	return names
}

// ListOneWire lists the thermometers on the kernel's 1-Wire bus under
// sysfsRoot (empty means /sys/bus/w1/devices), for Snippet.
func ListOneWire(sysfsRoot string) ([]Found, error) {
	roms, err := ds18b20.DiscoverSysfs(sysfsRoot)
	if err != nil {
		return nil, err
	}
	var found []Found
	for _, rom := range roms {
		found = append(found, Found{ROM: rom, Types: []string{"ds18b20"}})
	}
	return found, nil
}

// isContextErr reports whether err means the scan was stopped.
func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
