// Package sysattr reads the kernel's sensor devices in sysfs, IIO and hwmon
// alike: attribute files that hold one number as text, and device folders
// that carry the driver's name in a file called "name".
package sysattr

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Number reads an attribute holding one decimal number, such as "23125\n"
// or "0.000610351" (the ABI's scale format).
func Number(path string) (float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	s := strings.TrimSpace(string(b))
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%s holds %q, not a number", path, s)
	}
	return v, nil
}

// Device is a kernel device folder, the name the driver gave it and the
// driver's own name. Some drivers (si7020, hdc100x) name the device after
// its bus address, "1-0040", so the driver is the name to match there.
type Device struct {
	Path   string
	Name   string
	Driver string
}

// String shows both names when they differ.
func (d Device) String() string {
	if d.Driver == "" || d.Driver == d.Name {
		return d.Name
	}
	return d.Name + " (driver " + d.Driver + ")"
}

// List returns the devices in bus whose folder names start with prefix
// ("iio:device", "hwmon"), in folder order. A missing bus folder means no
// devices: the kernel creates it only when a driver registers.
func List(bus, prefix string) ([]Device, error) {
	entries, err := os.ReadDir(bus)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var devs []Device
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		p := filepath.Join(bus, e.Name())
		name, err := os.ReadFile(filepath.Join(p, "name"))
		if err != nil {
			continue
		}
		devs = append(devs, Device{Path: p, Name: strings.TrimSpace(string(name)), Driver: driver(p)})
	}
	slices.SortFunc(devs, func(a, b Device) int { return compareNatural(a.Path, b.Path) })
	return devs, nil
}

// driver is the name of the driver bound to the device in folder p: an
// hwmon device links its parent as "device", an IIO device is a child
// folder of its parent. Empty if neither has a driver link.
func driver(p string) string {
	links := []string{filepath.Join(p, "device", "driver")}
	if real, err := filepath.EvalSymlinks(p); err == nil {
		links = append(links, filepath.Join(filepath.Dir(real), "driver"))
	}
	for _, l := range links {
		if target, err := os.Readlink(l); err == nil {
			return filepath.Base(target)
		}
	}
	return ""
}

// Matches reports whether d is what match names: its name or its driver's.
// Device-tree platform devices such as the DHT11's are named after their
// node, "dht11@4", so the part before "@" matches too.
func (d Device) Matches(match string) bool {
	base, _, _ := strings.Cut(d.Name, "@")
	return d.Name == match || base == match || d.Driver == match
}

// Find returns the one device in bus named match. what says what kind of
// bus it is for the error messages, such as "IIO".
func Find(bus, prefix, match, what string) (string, error) {
	devs, err := List(bus, prefix)
	if err != nil {
		return "", fmt.Errorf("list %s devices in %s: %w", what, bus, err)
	}
	var found []string
	var names []string
	for _, d := range devs {
		names = append(names, d.String())
		if d.Matches(match) {
			found = append(found, d.Path)
		}
	}
	switch {
	case len(found) == 1:
		return found[0], nil
	case len(found) > 1:
		return "", fmt.Errorf("%d %s devices in %s are named %q (%s): set path to the one you mean", len(found), what, bus, match, strings.Join(found, ", "))
	case len(names) == 0:
		return "", fmt.Errorf("no %s device named %q: %s has no devices (is the dtoverlay line in /boot/firmware/config.txt, and did the Pi reboot?)", what, match, bus)
	}
	return "", fmt.Errorf("no %s device named %q in %s, only %s: check the overlay, or set match to one of these", what, match, bus, strings.Join(names, ", "))
}

// compareNatural orders "iio:device2" before "iio:device10".
func compareNatural(a, b string) int {
	ta, na := splitNumber(a)
	tb, nb := splitNumber(b)
	if ta != tb {
		return strings.Compare(ta, tb)
	}
	return na - nb
}

func splitNumber(s string) (string, int) {
	i := len(s)
	for i > 0 && s[i-1] >= '0' && s[i-1] <= '9' {
		i--
	}
	n, _ := strconv.Atoi(s[i:])
	return s[:i], n
}
