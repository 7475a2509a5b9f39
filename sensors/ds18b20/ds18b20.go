package ds18b20

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/edgepub/edgepub/sensors"
)

// Field is the name of the value a probe reports.
const Field = "temperature_c"

// Opts configures a probe. Zero fields take the value DefaultOpts gives them.
type Opts struct {
	// SysfsRoot is the directory in which the kernel's 1-Wire bus lists its
	// devices; used by NewSysfs.
	SysfsRoot string
	// Resolution is the conversion resolution in bits, 9..12, set on the
	// probe by NewOneWire. Fewer bits convert faster: 94 ms at 9 bits
	// (0.5 °C steps), 750 ms at 12 bits (0.0625 °C). The kernel driver keeps
	// its own setting, so NewSysfs ignores this.
	Resolution int
	// Logger notes a change of a probe's EEPROM. Nil discards.
	Logger *slog.Logger
}

// DefaultOpts returns the options used for a nil *Opts: the kernel's
// /sys/bus/w1/devices and the full 12-bit resolution the probe powers up
// with, so that NewOneWire never has to rewrite its EEPROM.
func DefaultOpts() Opts {
	return Opts{SysfsRoot: "/sys/bus/w1/devices", Resolution: 12}
}

// withDefaults fills the zero fields of o from DefaultOpts.
func (o *Opts) withDefaults() Opts {
	d := DefaultOpts()
	if o == nil {
		d.Logger = slog.New(slog.DiscardHandler)
		return d
	}
	r := *o
	if r.SysfsRoot == "" {
		r.SysfsRoot = d.SysfsRoot
	}
	if r.Resolution == 0 {
		r.Resolution = d.Resolution
	}
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
	return r
}

// Dev is one probe, reached through the kernel or a periph 1-Wire bus.
type Dev struct {
	// name is the probe's ROM id and where it hangs, for error messages.
	name string
	mu   sync.Mutex
	// readCelsius performs one conversion and returns its result.
	readCelsius func(ctx context.Context) (float64, error)
}

var _ sensors.Sensor = (*Dev)(nil)

// String names the probe and its bus.
func (d *Dev) String() string { return d.name }

// Sense converts and reads the temperature as temperature_c.
func (d *Dev) Sense(ctx context.Context) (sensors.Values, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	c, err := d.readCelsius(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.name, err)
	}
	return sensors.Values{Field: c}, nil
}

// checkPlausible rejects the power-on value and anything outside the range
// the probe is rated for; a MAX31850 thermocouple converter's range is
// -270..1800 °C (its datasheet's temperature data format table) and it has
// no power-on value to mistake.
func checkPlausible(c float64, thermocouple bool) error {
	switch {
	case thermocouple && (c < -270 || c > 1800):
		return fmt.Errorf("read %.2f °C, outside the MAX31850's -270..1800 °C: %w", c, sensors.ErrImplausible)
	case thermocouple:
		return nil
	case c == 85:
		return fmt.Errorf("read 85.000 °C, the power-on value: the probe reset or did not convert (check the pull-up resistor and the supply): %w", sensors.ErrImplausible)
	case c < -55 || c > 125:
		return fmt.Errorf("read %.3f °C, outside the rated -55..125 °C: %w", c, sensors.ErrImplausible)
	}
	return nil
}
