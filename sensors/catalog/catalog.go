package catalog

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strings"

	"github.com/edgepub/edgepub/config"
	"github.com/edgepub/edgepub/sensors"
	"github.com/edgepub/edgepub/sensors/ads1x15"
	"github.com/edgepub/edgepub/sensors/bmxx80"
	"github.com/edgepub/edgepub/sensors/ds18b20"
)

// Open sets up the sensor spec describes, on the buses it names. It fails
// if the type is unknown, a bus is not named, or the device does not answer
// as the type expects; the error names the sensor and says what to fix.
func Open(ctx context.Context, spec config.Sensor, buses Buses) (sensors.Sensor, error) {
	s, err := open(ctx, spec, buses)
	if err != nil {
		return nil, fmt.Errorf("sensor %q (type %s): %w", spec.Name, spec.Type, err)
	}
	return s, nil
}

func open(ctx context.Context, spec config.Sensor, buses Buses) (sensors.Sensor, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ti, ok := Lookup(spec.Type)
	if !ok {
		return nil, unknownType(spec.Type)
	}
	if spec.Address == 0 && len(ti.Addresses) > 0 {
		spec.Address = ti.Addresses[0]
	}
	return ti.Open(ctx, spec, buses)
}

// sensor turns a constructor's concrete result into a Sensor without
// wrapping a nil pointer in a non-nil interface.
func sensor[T sensors.Sensor](s T, err error) (sensors.Sensor, error) {
	if err != nil {
		return nil, err
	}
	return s, nil
}

// openBMxx80 opens a BME280, BMP280 or BMP180 on I²C, or a BMx280 on SPI
// when the bus is an SPI port, and checks that the chip is the one
// configured: a BMP280 configured as a BME280 would silently lack humidity.
func openBMxx80(_ context.Context, spec config.Sensor, buses Buses) (sensors.Sensor, error) {
	var (
		dev  *bmxx80.Dev
		err  error
		port interface{ Close() error }
	)
	if isSPI(spec.Bus) {
		if spec.Type == "bmp180" {
			return nil, fmt.Errorf("bus %q is an spi port, but the BMP180 has only I²C: name an I²C bus", spec.Bus)
		}
		p, perr := buses.SPI(spec.Bus)
		if perr != nil {
			return nil, perr
		}
		port = p
		dev, err = bmxx80.NewSPI(p, nil)
	} else {
		if spec.Bus == "" {
			return nil, errNoBusName
		}
		b, berr := buses.I2C(spec.Bus)
		if berr != nil {
			return nil, berr
		}
		dev, err = bmxx80.NewI2C(b, spec.Address, nil)
	}
	if err == nil && !strings.EqualFold(dev.Model(), spec.Type) {
		err = fmt.Errorf("the chip found is a %s, not a %s: set type: %s", dev.Model(), spec.Type, strings.ToLower(dev.Model()))
	}
	if err != nil {
		if port != nil {
			err = errors.Join(err, port.Close())
		}
		return nil, err
	}
	return dev, nil
}

// isSPI reports whether a bus name is an SPI port rather than an I²C bus.
func isSPI(bus string) bool {
	return strings.HasPrefix(bus, "/dev/spidev") || strings.HasPrefix(strings.ToUpper(bus), "SPI")
}

// openDS18B20 opens a probe on the kernel's 1-Wire bus or behind a DS2482.
func openDS18B20(_ context.Context, spec config.Sensor, buses Buses) (sensors.Sensor, error) {
	if spec.ROM == "" {
		return nil, errors.New("rom is empty: give the probe's id, such as rom: 28-0316a2799bff (edgepub scan lists them)")
	}
	switch spec.Bridge {
	case "", "sysfs":
		// For the kernel's bus, Bus names its devices directory; empty
		// means the usual /sys/bus/w1/devices.
		return sensor(ds18b20.NewSysfs(spec.ROM, &ds18b20.Opts{SysfsRoot: spec.Bus}))
	case "ds2482":
		if spec.Bus == "" {
			return nil, errNoBusName
		}
		ow, err := buses.OneWireBridge(spec.Bus, spec.Address)
		if err != nil {
			return nil, err
		}
		// A change of the probe's resolution wears its EEPROM: say so.
		return sensor(ds18b20.NewOneWire(ow, spec.ROM, &ds18b20.Opts{Logger: slog.Default()}))
	}
	return nil, fmt.Errorf("bridge %q: choose sysfs (the kernel's w1-gpio bus) or ds2482 (an I²C bridge at bus and address)", spec.Bridge)
}

// adcOpts maps the configured channels to the ADC driver's.
func adcOpts(spec config.Sensor) *ads1x15.Opts {
	var chans []ads1x15.Channel
	for _, c := range spec.Driver.Channels {
		chans = append(chans, ads1x15.Channel{Input: c.Input, Field: c.Field, Gain: c.Gain, Scale: c.Scale, Offset: c.Offset})
	}
	return &ads1x15.Opts{Channels: chans}
}

// simSeed is the configured seed, or one derived from the sensor's name so
// that two simulated sensors differ but each stays the same across restarts.
func simSeed(spec config.Sensor) int64 {
	if spec.Seed != 0 {
		return spec.Seed
	}
	h := fnv.New64a()
	h.Write([]byte(spec.Name))
	return int64(h.Sum64())
}
