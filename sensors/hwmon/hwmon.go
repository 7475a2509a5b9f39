package hwmon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/edgepub/edgepub/sensors"
	"github.com/edgepub/edgepub/sensors/internal/sysattr"
)

// DefaultBus is where the kernel lists hwmon devices.
const DefaultBus = "/sys/class/hwmon"

type quantity struct {
	stem, suffix string
	// factor turns the interface's unit into the field's.
	factor float64
}

// quantityOf maps attribute types to fields, with the units of
// Documentation/hwmon/sysfs-interface.rst. Cumulative energy (energyN) is
// left out: it is a counter, not a reading.
func quantityOf(typ string) (quantity, bool) {
	switch typ {
	case "in":
		return quantity{"voltage", "_v", 1e-3}, true // millivolt
	case "curr":
		return quantity{"current", "_a", 1e-3}, true // milliampere
	case "power":
		return quantity{"power", "_w", 1e-6}, true // microwatt
	case "temp":
		return quantity{"temperature", "_c", 1e-3}, true // millidegree Celsius
	case "humidity":
		return quantity{"humidity", "_pct", 1e-3}, true // milli-percent
	case "fan":
		return quantity{"fan", "_rpm", 1}, true // revolutions per minute
	}
	return quantity{}, false
}

type channel struct {
	field  string
	path   string
	factor float64
}

// Dev is one hwmon device. It is safe for concurrent use: it only reads
// files.
type Dev struct {
	path     string
	name     string
	channels []channel
}

var _ sensors.Sensor = (*Dev)(nil)

// Find returns the folder of the one device in bus (DefaultBus if empty)
// whose name is match.
func Find(bus, match string) (string, error) {
	if bus == "" {
		bus = DefaultBus
	}
	return sysattr.Find(bus, "hwmon", match, "hwmon")
}

// New opens the hwmon device in folder path and finds its *_input
// attributes. Old drivers keep them in the device/ subfolder, which the
// interface allows; New looks there when the folder itself has none.
func New(path string) (*Dev, error) {
	name, err := os.ReadFile(filepath.Join(path, "name"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("hwmon: %s is not an hwmon device folder (it has no name file): set path to /sys/class/hwmon/hwmonN, or use match", path)
	}
	if err != nil {
		return nil, fmt.Errorf("hwmon: %w", err)
	}
	d := &Dev{path: path, name: strings.TrimSpace(string(name))}
	for _, dir := range []string{path, filepath.Join(path, "device")} {
		if d.channels, err = channels(dir); err != nil {
			return nil, fmt.Errorf("%s: %w", d, err)
		}
		if len(d.channels) > 0 {
			return d, nil
		}
	}
	return nil, fmt.Errorf("%s: no *_input attribute edgepub knows (in, curr, power, temp, humidity, fan)", d)
}

// String names the device for logs and errors.
func (d *Dev) String() string {
	return fmt.Sprintf("hwmon device %s (%s)", d.name, d.path)
}

// Name is the kernel driver's name for the device.
func (d *Dev) Name() string { return d.name }

// Fields lists the fields Sense returns, sorted.
func (d *Dev) Fields() []string {
	var f []string
	for _, c := range d.channels {
		f = append(f, c.field)
	}
	slices.Sort(f)
	return f
}

// Sense reads every channel. Most drivers measure on read or cache for
// their update interval; a sensor that does not answer shows up as an I/O
// error.
func (d *Dev) Sense(ctx context.Context) (sensors.Values, error) {
	v := sensors.Values{}
	for _, c := range d.channels {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		x, err := sysattr.Number(c.path)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: the driver could not read the sensor (check wiring and power; dmesg may say more): %w", d, c.field, err)
		}
		v[c.field] = x * c.factor
	}
	return v, nil
}

// channels finds <type><N>_input attributes in dir. A type with one channel
// gets a plain field name ("temperature_c"); with several, the number goes
// in ("voltage0_v", "voltage1_v").
func channels(dir string) ([]channel, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	type found struct{ typ, index, path string }
	var all []found
	count := map[string]int{}
	for _, e := range entries {
		base, ok := strings.CutSuffix(e.Name(), "_input")
		if !ok {
			continue
		}
		i := len(base)
		for i > 0 && base[i-1] >= '0' && base[i-1] <= '9' {
			i--
		}
		typ, index := base[:i], base[i:]
		if _, known := quantityOf(typ); !known || index == "" {
			continue
		}
		all = append(all, found{typ, index, filepath.Join(dir, e.Name())})
		count[typ]++
	}
	var chans []channel
	for _, f := range all {
		q, _ := quantityOf(f.typ)
		field := q.stem
		if count[f.typ] > 1 {
			field += f.index
		}
		chans = append(chans, channel{field: field + q.suffix, path: f.path, factor: q.factor})
	}
	return chans, nil
}
