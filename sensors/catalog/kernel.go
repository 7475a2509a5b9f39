package catalog

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/edgepub/edgepub/config"
	"github.com/edgepub/edgepub/sensors"
	"github.com/edgepub/edgepub/sensors/hwmon"
	"github.com/edgepub/edgepub/sensors/iio"
	"github.com/edgepub/edgepub/sensors/internal/sysattr"
)

// kernelDevice says how a type finds its device among those the kernel
// drives: its subsystem, the driver's name, and fields to rename so that
// the kernel's reading looks like edgepub's own driver's.
type kernelDevice struct {
	// subsystem is "iio" or "hwmon".
	subsystem string
	// match is the kernel driver's name; empty for the generic types,
	// which need the configuration's path or match.
	match  string
	rename map[string]string
	// spacing is the time the chip needs between reads.
	spacing time.Duration
}

// usesKernel reports whether spec asks for a device the kernel drives
// rather than a bus edgepub talks to itself: it names a device folder or a
// driver, a folder to search, or no bus at all.
func usesKernel(spec config.Sensor) bool {
	if spec.Path != "" || spec.Match != "" || spec.Bus == "" || strings.HasPrefix(spec.Bus, "/sys/") {
		return true
	}
	fi, err := os.Stat(spec.Bus)
	return err == nil && fi.IsDir()
}

// openKernel returns the Open function of a type read through the kernel.
func openKernel(k kernelDevice) func(context.Context, config.Sensor, Buses) (sensors.Sensor, error) {
	return func(_ context.Context, spec config.Sensor, _ Buses) (sensors.Sensor, error) {
		if strings.HasPrefix(spec.Bus, "/dev/") {
			return nil, fmt.Errorf("bus %q is a device, not a /sys folder: this type is read through the kernel's %s driver, so leave bus empty (or give the folder that lists %s devices) and load the driver with its dtoverlay line", spec.Bus, k.subsystemName(), k.subsystem)
		}
		path := spec.Path
		if path == "" {
			match := spec.Match
			if match == "" {
				match = k.match
			}
			if match == "" {
				return nil, fmt.Errorf("give path (the device folder, such as %s) or match (the kernel driver's name, such as %s): edgepub sensors scan lists the devices", k.example(), k.exampleName())
			}
			var err error
			if path, err = k.find(spec.Bus, match); err != nil {
				return nil, err
			}
		}
		if k.subsystem == "hwmon" {
			return sensor(hwmon.New(path))
		}
		return sensor(iio.New(path, &iio.Opts{Rename: k.rename, Spacing: k.spacing}))
	}
}

func (k kernelDevice) find(bus, match string) (string, error) {
	if k.subsystem == "hwmon" {
		return hwmon.Find(bus, match)
	}
	return iio.Find(bus, match)
}

func (k kernelDevice) subsystemName() string {
	if k.subsystem == "hwmon" {
		return "hwmon"
	}
	return "IIO"
}

func (k kernelDevice) example() string {
	if k.subsystem == "hwmon" {
		return hwmon.DefaultBus + "/hwmon2"
	}
	return iio.DefaultBus + "/iio:device0"
}

func (k kernelDevice) exampleName() string {
	if k.subsystem == "hwmon" {
		return "lm75"
	}
	return "bme680"
}

// ownOrKernel opens a chip with edgepub's own driver when spec names a
// bus edgepub talks to (an I²C bus or SPI port), and through the kernel's
// driver otherwise.
func ownOrKernel(k kernelDevice, own func(context.Context, config.Sensor, Buses) (sensors.Sensor, error)) func(context.Context, config.Sensor, Buses) (sensors.Sensor, error) {
	kernel := openKernel(k)
	return func(ctx context.Context, spec config.Sensor, buses Buses) (sensors.Sensor, error) {
		if !usesKernel(spec) {
			return own(ctx, spec, buses)
		}
		s, err := kernel(ctx, spec, buses)
		if err != nil && spec.Bus == "" && spec.Path == "" && spec.Match == "" {
			return nil, fmt.Errorf("%w; or name the bus for edgepub's own driver, such as bus: /dev/i2c-1", err)
		}
		return s, err
	}
}

// adcFields renames the kernel's voltageN_v to ainN_v, the names edgepub's
// own ADC drivers use.
func adcFields(n int) map[string]string {
	m := map[string]string{}
	for i := range n {
		m["voltage"+strconv.Itoa(i)+"_v"] = "ain" + strconv.Itoa(i) + "_v"
	}
	return m
}

// errNoPort is returned for a serial sensor without a port.
var errNoPort = errors.New("bus is empty: name the serial port, such as bus: /dev/serial0 (the Pi's UART) or /dev/ttyUSB0")

// ListKernel lists the IIO devices in iioBus and the hwmon devices in
// hwmonBus ("" skips one), each with the type that reads it: a named type
// whose kernel driver it is, or the generic iio or hwmon type. A missing
// folder lists nothing.
func ListKernel(iioBus, hwmonBus string) ([]Found, error) {
	var found []Found
	for _, sub := range []struct {
		bus, prefix, subsystem string
	}{{iioBus, "iio:device", "iio"}, {hwmonBus, "hwmon", "hwmon"}} {
		if sub.bus == "" {
			continue
		}
		devs, err := sysattr.List(sub.bus, sub.prefix)
		if err != nil {
			return found, fmt.Errorf("list %s devices in %s: %w", sub.subsystem, sub.bus, err)
		}
		count := map[string]int{}
		for _, d := range devs {
			count[matchName(d)]++
		}
		for _, d := range devs {
			f := Found{Path: d.Path, Chip: d.String(), Types: []string{sub.subsystem}}
			if ti, ok := kernelTypeFor(sub.subsystem, d); ok {
				f.Types = []string{ti.Name}
			}
			if count[matchName(d)] == 1 {
				f.Match = matchName(d)
			}
			// A device edgepub cannot read (an accelerometer, the Pi's
			// under-voltage alarm) gets a comment, not an entry.
			if err := readable(sub.subsystem, d.Path); err != nil {
				f.Types, f.Note = nil, err.Error()
			}
			if d.Name == "cpu_thermal" {
				f.Note = "the SoC's temperature, which type soc reads too"
			}
			found = append(found, f)
		}
	}
	return found, nil
}

// readable reports why edgepub could not read the device, if it could not.
func readable(subsystem, path string) error {
	var err error
	if subsystem == "hwmon" {
		_, err = hwmon.New(path)
	} else {
		_, err = iio.New(path, nil)
	}
	return err
}

// matchName is the name a configuration's match should give for d: the
// driver's, when the device is named after its bus address.
func matchName(d sysattr.Device) string {
	if d.Driver != "" && strings.ContainsAny(d.Name, "-") && !strings.Contains(d.Driver, "-") {
		return d.Driver
	}
	base, _, _ := strings.Cut(d.Name, "@")
	return base
}

// kernelTypeFor returns the named type that reads d through the kernel.
func kernelTypeFor(subsystem string, d sysattr.Device) (TypeInfo, bool) {
	for _, ti := range Types() {
		if ti.kernel.subsystem == subsystem && ti.kernel.match != "" && d.Matches(ti.kernel.match) {
			return ti, true
		}
	}
	return TypeInfo{}, false
}

// kernelType describes a chip read only through its kernel driver.
func kernelType(name, chip, summary, overlay string, k kernelDevice, fields ...string) TypeInfo {
	return TypeInfo{Name: name, Chip: chip, Summary: summary, Bus: k.subsystem, Fields: fields, Spacing: k.spacing, Overlay: overlay, kernel: k, Open: openKernel(k)}
}

// boschKernel is the kernel's bmp280 driver, which names each device after
// its chip.
func boschKernel(chip string) kernelDevice {
	return kernelDevice{subsystem: "iio", match: chip}
}
