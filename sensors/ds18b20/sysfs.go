package ds18b20

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// enableHint tells the operator how a Raspberry Pi gets the kernel's bus.
const enableHint = "enable the kernel's 1-Wire bus: add dtoverlay=w1-gpio to /boot/firmware/config.txt and reboot"

// NewSysfs opens the probe with the given ROM id on the kernel's 1-Wire bus
// under opts.SysfsRoot. It fails if the kernel does not list the probe, and
// names the probes it does list.
func NewSysfs(rom string, opts *Opts) (*Dev, error) {
	o := opts.withDefaults()
	a, err := ParseROM(rom)
	if err != nil {
		return nil, fmt.Errorf("ds18b20: %w", err)
	}
	rom = FormatROM(a)
	dir := filepath.Join(o.SysfsRoot, rom)
	if _, err := os.Stat(dir); err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("ds18b20 %s: %w", rom, err)
		}
		present, lerr := DiscoverSysfs(o.SysfsRoot)
		if lerr != nil {
			return nil, fmt.Errorf("ds18b20 %s: %w", rom, lerr)
		}
		return nil, fmt.Errorf("ds18b20 %s: not on the 1-Wire bus at %s (thermometers there: %s): check the rom id and the wiring",
			rom, o.SysfsRoot, listOrNone(present))
	}
	return &Dev{
		name:        "ds18b20 " + rom + " on " + o.SysfsRoot,
		readCelsius: func(context.Context) (float64, error) { return readSysfs(dir) },
	}, nil
}

// DiscoverSysfs lists the ROM ids of the thermometers the kernel's 1-Wire
// bus shows under root (the default root if empty), sorted.
func DiscoverSysfs(root string) ([]string, error) {
	if root == "" {
		root = DefaultOpts().SysfsRoot
	}
	entries, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("listing 1-wire devices: %s does not exist: %s", root, enableHint)
	}
	if err != nil {
		return nil, fmt.Errorf("listing 1-wire devices: %w", err)
	}
	var roms []string
	for _, e := range entries {
		a, err := ParseROM(e.Name())
		if err == nil && isThermometer(byte(a)) {
			roms = append(roms, FormatROM(a))
		}
	}
	slices.Sort(roms)
	return roms, nil
}

// readSysfs reads one conversion from the kernel. It prefers w1_slave, which
// shows the scratchpad and the kernel's CRC verdict, and falls back to the
// newer temperature file.
func readSysfs(dir string) (float64, error) {
	b, err := os.ReadFile(filepath.Join(dir, "w1_slave"))
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Stat(dir); serr != nil {
			return 0, fmt.Errorf("the probe left the bus (%s is gone): check the wiring", dir)
		}
		c, err := readTemperatureFile(filepath.Join(dir, "temperature"))
		if err != nil {
			return 0, err
		}
		return c, checkPlausible(c, false)
	}
	if err != nil {
		return 0, fmt.Errorf("reading w1_slave: %w", err)
	}
	return parseW1Slave(string(b))
}

// readTemperatureFile reads the kernel's temperature file, milli-°C.
func readTemperatureFile(path string) (float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("reading temperature: %w", err)
	}
	milli, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("reading temperature: %q is not a number of milli-°C", strings.TrimSpace(string(b)))
	}
	return float64(milli) / 1000, nil
}

// parseW1Slave reads the kernel's two-line report:
//
//	72 01 4b 46 7f ff 0e 10 57 : crc=57 YES
//	72 01 4b 46 7f ff 0e 10 57 t=23125
func parseW1Slave(s string) (float64, error) {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) < 2 {
		return 0, fmt.Errorf("w1_slave: want two lines, got %q: the read was cut short", s)
	}
	check := strings.Fields(lines[0])
	if len(check) < 11 || !strings.HasPrefix(check[len(check)-2], "crc=") {
		return 0, fmt.Errorf("w1_slave: unexpected first line %q", lines[0])
	}
	if check[len(check)-1] != "YES" {
		return 0, fmt.Errorf("scratchpad crc mismatch (kernel says %q): check the wiring and the pull-up resistor",
			strings.Join(check[len(check)-2:], " "))
	}
	// All zeros passes the CRC (the CRC of zeros is zero) yet is what a probe
	// that holds the data line low returns.
	if allZero(check[:9]) {
		return 0, errors.New("scratchpad is all zeros: the probe is not answering (check the data line)")
	}
	spad, err := hex.DecodeString(strings.Join(check[:9], ""))
	if err != nil {
		return 0, fmt.Errorf("w1_slave: first line %q is not nine hex bytes", lines[0])
	}
	if isMAX31850(spad) {
		// The kernel's w1_therm may convert family 3b as a DS1825; the
		// scratchpad says what a MAX31850 measured and whether it failed.
		c, err := decodeScratchpad(spad, 12)
		if err != nil {
			return 0, err
		}
		return c, checkPlausible(c, true)
	}
	_, t, ok := strings.Cut(lines[1], "t=")
	if !ok {
		return 0, fmt.Errorf("w1_slave: no t= in %q", lines[1])
	}
	milli, err := strconv.Atoi(strings.TrimSpace(t))
	if err != nil {
		return 0, fmt.Errorf("w1_slave: t=%q is not a number of milli-°C", t)
	}
	c := float64(milli) / 1000
	return c, checkPlausible(c, false)
}

// allZero reports whether every hex byte is 00.
func allZero(hexBytes []string) bool {
	for _, h := range hexBytes {
		if h != "00" {
			return false
		}
	}
	return true
}

// listOrNone joins ids for an error message.
func listOrNone(ids []string) string {
	if len(ids) == 0 {
		return "none"
	}
	return strings.Join(ids, ", ")
}
