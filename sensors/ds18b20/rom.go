package ds18b20

import (
	"fmt"
	"strconv"
	"strings"

	"periph.io/x/conn/v3/onewire"
)

// isThermometer reports whether family is one whose scratchpad holds the
// temperature as a signed 1/16 °C count, the format this package decodes:
// the DS18B20 (and MAX31820), the DS1822 and the DS1825.
func isThermometer(family byte) bool {
	switch family {
	case 0x28, 0x22, 0x3b:
		return true
	}
	return false
}

// ParseROM turns a ROM id as the kernel names it, "28-0316a2799bff", into
// periph's onewire.Address: the family code in the low byte, the serial
// number above it and the ROM's CRC in the top byte, which ParseROM computes.
func ParseROM(rom string) (onewire.Address, error) {
	fam, serial, ok := strings.Cut(strings.TrimSpace(rom), "-")
	if !ok || len(fam) != 2 || len(serial) != 12 {
		return 0, fmt.Errorf("1-wire rom id %q: want the family code, a dash and 12 hex digits, like \"28-0316a2799bff\"", rom)
	}
	f, err1 := strconv.ParseUint(fam, 16, 8)
	s, err2 := strconv.ParseUint(serial, 16, 48)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("1-wire rom id %q: not hexadecimal: write it as the kernel lists it in /sys/bus/w1/devices, like \"28-0316a2799bff\"", rom)
	}
	var b [8]byte
	b[0] = byte(f)
	for i := 1; i <= 6; i++ {
		b[i] = byte(s >> (8 * (i - 1)))
	}
	b[7] = onewire.CalcCRC(b[:7])
	var a onewire.Address
	for i := 7; i >= 0; i-- {
		a = a<<8 | onewire.Address(b[i])
	}
	return a, nil
}

// FormatROM names a 1-Wire address the way the kernel does,
// "28-0316a2799bff"; the CRC byte is not part of the name.
func FormatROM(a onewire.Address) string {
	return fmt.Sprintf("%02x-%012x", byte(a), uint64(a>>8)&(1<<48-1))
}
