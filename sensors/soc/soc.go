package soc

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"github.com/edgepub/edgepub/sensors"
)

// Field is the name of the value the SoC reports.
const Field = "soc_temperature_c"

// Limits of a plausible die temperature. A reading outside is a driver or
// firmware fault: the kernel reports -274 °C or 0 for a zone whose sensor
// failed on some boards, and no SoC runs beyond 150 °C.
const (
	minCelsius = -40
	maxCelsius = 150
)

// Opts configures the reader. A zero field takes its value from DefaultOpts.
type Opts struct {
	// Path is the thermal zone's temp file, in milli-°C.
	Path string
}

// DefaultOpts returns the options used for a nil *Opts: thermal zone 0,
// which is the CPU on a Raspberry Pi.
func DefaultOpts() Opts {
	return Opts{Path: "/sys/class/thermal/thermal_zone0/temp"}
}

// Dev reads one thermal zone.
type Dev struct {
	path string
}

var _ sensors.Sensor = (*Dev)(nil)

// New opens the thermal zone and reads it once, so that a wrong path fails at
// start rather than at every read.
func New(opts *Opts) (*Dev, error) {
	o := DefaultOpts()
	if opts != nil && opts.Path != "" {
		o.Path = opts.Path
	}
	d := &Dev{path: o.Path}
	if _, err := d.read(); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("soc temperature: %s does not exist: this machine has no such thermal zone; list /sys/class/thermal/thermal_zone*/type and set path to the right zone's temp file", o.Path)
		}
		return nil, err
	}
	return d, nil
}

// String names the file read.
func (d *Dev) String() string { return "soc temperature " + d.path }

// Sense reads the zone's temperature as soc_temperature_c.
func (d *Dev) Sense(ctx context.Context) (sensors.Values, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c, err := d.read()
	if err != nil {
		return nil, err
	}
	if c < minCelsius || c > maxCelsius {
		return nil, fmt.Errorf("soc temperature %s: %.3f °C is outside %d..%d °C: %w", d.path, c, minCelsius, maxCelsius, sensors.ErrImplausible)
	}
	return sensors.Values{Field: c}, nil
}

// read returns the zone's temperature in °C.
func (d *Dev) read() (float64, error) {
	b, err := os.ReadFile(d.path)
	if err != nil {
		return 0, fmt.Errorf("soc temperature: %w", err)
	}
	s := strings.TrimSpace(string(b))
	milli, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("soc temperature %s: %q is not a number of milli-°C: point path at a thermal zone's temp file", d.path, s)
	}
	return float64(milli) / 1000, nil
}
