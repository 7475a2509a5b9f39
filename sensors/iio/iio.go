package iio

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/edgepub/edgepub/sensors"
	"github.com/edgepub/edgepub/sensors/internal/sysattr"
)

// DefaultBus is where the kernel lists IIO devices.
const DefaultBus = "/sys/bus/iio/devices"

// quantity is how one IIO channel type becomes an edgepub field.
type quantity struct {
	stem   string
	suffix string
	// factor turns the ABI's unit into the field's.
	factor float64
}

// quantityOf maps the ABI's channel type names to fields; the units are
// those of Documentation/ABI/testing/sysfs-bus-iio. Channel types without a
// physical unit there (intensity, proximity) are left out.
func quantityOf(typ string) (quantity, bool) {
	switch typ {
	case "temp":
		return quantity{"temperature", "_c", 1e-3}, true // milli degrees Celsius
	case "humidityrelative":
		return quantity{"humidity", "_pct", 1e-3}, true // milli percent
	case "pressure":
		return quantity{"pressure", "_hpa", 10}, true // kilopascal
	case "voltage":
		return quantity{"voltage", "_v", 1e-3}, true // millivolts
	case "current":
		return quantity{"current", "_a", 1e-3}, true // milliamps
	case "power":
		return quantity{"power", "_w", 1e-3}, true // milliwatts
	case "illuminance":
		return quantity{"illuminance", "_lux", 1}, true // lux
	case "resistance":
		return quantity{"resistance", "_ohm", 1}, true // ohms
	case "uvindex":
		return quantity{"uv_index", "", 1}, true // UV index, no unit
	case "concentration":
		return quantity{"concentration", "_ppm", 1e4}, true // percent
	}
	return quantity{}, false
}

// concentrationOf names a concentration channel by its modifier: the ABI
// gives all of them in percent, and edgepub publishes CO₂ in ppm (% × 10⁴)
// and VOC in ppb (% × 10⁷), as the SCD4x and SGP30 drivers do. Others are
// "<modifier>_ppm".
func concentrationOf(modifier string) quantity {
	switch modifier {
	case "co2":
		return quantity{"co2", "_ppm", 1e4}
	case "voc":
		return quantity{"tvoc", "_ppb", 1e7}
	}
	return quantity{modifier, "_ppm", 1e4}
}

// channel is one readable value of the device.
type channel struct {
	field string
	// input is the _input file, or the _raw file with its offset and scale.
	input, raw    string
	offset, scale float64
	// factor turns the ABI's unit into the field's.
	factor float64
}

// Opts configures a Dev.
type Opts struct {
	// Rename maps a derived field name to the one to publish, such as
	// resistance_ohm to gas_ohm for a BME680.
	Rename map[string]string
	// Spacing is the time the sensor needs between two reads: the kernel's
	// dht11 driver, for one, keeps a reading for 2 s.
	Spacing time.Duration
}

// Dev is one IIO device. It is safe for concurrent use: it only reads
// files.
type Dev struct {
	path     string
	name     string
	channels []channel
	spacing  time.Duration
}

var _ sensors.Spaced = (*Dev)(nil)

var _ sensors.Sensor = (*Dev)(nil)

// Find returns the folder of the one device in bus (DefaultBus if empty)
// whose name is match.
func Find(bus, match string) (string, error) {
	if bus == "" {
		bus = DefaultBus
	}
	return sysattr.Find(bus, "iio:device", match, "IIO")
}

// New opens the IIO device in folder path and finds its channels. Offsets
// and scales are read once, as they change only when someone writes them.
// A nil opts means no renames.
func New(path string, opts *Opts) (*Dev, error) {
	if opts == nil {
		opts = &Opts{}
	}
	name, err := os.ReadFile(filepath.Join(path, "name"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("iio: %s is not an IIO device folder (it has no name file): set path to /sys/bus/iio/devices/iio:deviceN, or use match", path)
	}
	if err != nil {
		return nil, fmt.Errorf("iio: %w", err)
	}
	d := &Dev{path: path, name: strings.TrimSpace(string(name)), spacing: opts.Spacing}
	if d.channels, err = channels(path, opts.Rename); err != nil {
		return nil, fmt.Errorf("%s: %w", d, err)
	}
	if len(d.channels) == 0 {
		return nil, fmt.Errorf("%s: no channel with a physical unit edgepub knows (temp, humidityrelative, pressure, voltage, current, power, illuminance, resistance, uvindex, concentration)", d)
	}
	return d, nil
}

// String names the device for logs and errors.
func (d *Dev) String() string {
	return fmt.Sprintf("iio device %s (%s)", d.name, d.path)
}

// Spacing is the time the sensor needs between reads (Opts.Spacing).
func (d *Dev) Spacing() time.Duration { return d.spacing }

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

// Sense reads every channel. Reading makes the driver measure, so a sensor
// that does not answer shows up here as an I/O error or a timeout.
func (d *Dev) Sense(ctx context.Context) (sensors.Values, error) {
	v := sensors.Values{}
	for _, c := range d.channels {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		x, err := c.read()
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", d, c.field, err)
		}
		v[c.field] = x
	}
	return v, nil
}

func (c channel) read() (float64, error) {
	if c.input != "" {
		v, err := number(c.input)
		return v * c.factor, err
	}
	raw, err := number(c.raw)
	if err != nil {
		return 0, err
	}
	// The ABI adds the offset before scaling.
	return (raw + c.offset) * c.scale * c.factor, nil
}

// number reads a value file and says what a failed read usually means.
func number(path string) (float64, error) {
	v, err := sysattr.Number(path)
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return 0, fmt.Errorf("the driver could not read the sensor (check wiring and power; dmesg may say more): %w", err)
	}
	return v, err
}
