package catalog

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/edgepub/edgepub/config"
	"github.com/edgepub/edgepub/sensors"
	"github.com/edgepub/edgepub/sensors/ads1x15"
	"github.com/edgepub/edgepub/sensors/aht20"
	"github.com/edgepub/edgepub/sensors/am2320"
	"github.com/edgepub/edgepub/sensors/bh1750"
	"github.com/edgepub/edgepub/sensors/bmxx80"
	"github.com/edgepub/edgepub/sensors/ds18b20"
	"github.com/edgepub/edgepub/sensors/hdc302x"
	"github.com/edgepub/edgepub/sensors/ina219"
	"github.com/edgepub/edgepub/sensors/mcp9808"
	"github.com/edgepub/edgepub/sensors/scd4x"
	"github.com/edgepub/edgepub/sensors/sgp30"
	"github.com/edgepub/edgepub/sensors/sht4x"
	"github.com/edgepub/edgepub/sensors/sim"
	"github.com/edgepub/edgepub/sensors/soc"
	"github.com/edgepub/edgepub/sensors/tmp102"
	"periph.io/x/conn/v3/i2c"
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
	switch spec.Type {
	case "bme280", "bmp280", "bmp180":
		return openBMxx80(spec, buses)
	case "aht20":
		return onI2C(spec, buses, func(b i2c.Bus, addr uint16) (sensors.Sensor, error) {
			return sensor(aht20.NewI2C(b, addr, nil))
		})
	case "am2320":
		return onI2C(spec, buses, func(b i2c.Bus, addr uint16) (sensors.Sensor, error) {
			return sensor(am2320.NewI2C(b, addr, nil))
		})
	case "sht4x":
		return onI2C(spec, buses, func(b i2c.Bus, addr uint16) (sensors.Sensor, error) {
			return sensor(sht4x.NewI2C(b, addr, nil))
		})
	case "hdc302x":
		return onI2C(spec, buses, func(b i2c.Bus, addr uint16) (sensors.Sensor, error) {
			return sensor(hdc302x.NewI2C(b, addr, nil))
		})
	case "mcp9808":
		return onI2C(spec, buses, func(b i2c.Bus, addr uint16) (sensors.Sensor, error) {
			return sensor(mcp9808.NewI2C(b, addr, nil))
		})
	case "tmp102":
		return onI2C(spec, buses, func(b i2c.Bus, addr uint16) (sensors.Sensor, error) {
			return sensor(tmp102.NewI2C(b, addr, nil))
		})
	case "ds18b20":
		return openDS18B20(spec, buses)
	case "scd4x":
		return onI2C(spec, buses, func(b i2c.Bus, addr uint16) (sensors.Sensor, error) {
			return sensor(scd4x.NewI2C(ctx, b, addr, nil))
		})
	case "sgp30":
		return onI2C(spec, buses, func(b i2c.Bus, addr uint16) (sensors.Sensor, error) {
			return sensor(sgp30.NewI2C(ctx, b, addr, nil))
		})
	case "bh1750":
		return onI2C(spec, buses, func(b i2c.Bus, addr uint16) (sensors.Sensor, error) {
			return sensor(bh1750.NewI2C(b, addr, nil))
		})
	case "ina219":
		opts := &ina219.Opts{ShuntOhms: spec.Driver.ShuntOhms, MaxCurrentA: spec.Driver.MaxCurrentA}
		return onI2C(spec, buses, func(b i2c.Bus, addr uint16) (sensors.Sensor, error) {
			return sensor(ina219.NewI2C(b, addr, opts))
		})
	case "ads1115":
		opts := adcOpts(spec)
		return onI2C(spec, buses, func(b i2c.Bus, addr uint16) (sensors.Sensor, error) {
			return sensor(ads1x15.NewADS1115(b, addr, opts))
		})
	case "ads1015":
		opts := adcOpts(spec)
		return onI2C(spec, buses, func(b i2c.Bus, addr uint16) (sensors.Sensor, error) {
			return sensor(ads1x15.NewADS1015(b, addr, opts))
		})
	case "soc":
		return sensor(soc.New(&soc.Opts{Path: spec.Path}))
	case "sim-bme280":
		return sim.NewBME280(&sim.Opts{Seed: simSeed(spec)}), nil
	case "sim-soc":
		return sim.NewSoC(&sim.Opts{Seed: simSeed(spec)}), nil
	}
	return nil, fmt.Errorf("unknown type %q: choose one of %s", spec.Type, typeNames())
}

// sensor turns a constructor's concrete result into a Sensor without
// wrapping a nil pointer in a non-nil interface.
func sensor[T sensors.Sensor](s T, err error) (sensors.Sensor, error) {
	if err != nil {
		return nil, err
	}
	return s, nil
}

// onI2C opens spec's I²C bus and calls open with it and spec's address, or
// the type's default address if the configuration gives none.
func onI2C(spec config.Sensor, buses Buses, open func(i2c.Bus, uint16) (sensors.Sensor, error)) (sensors.Sensor, error) {
	if spec.Bus == "" {
		return nil, errNoBusName
	}
	b, err := buses.I2C(spec.Bus)
	if err != nil {
		return nil, err
	}
	return open(b, addressOf(spec))
}

// addressOf is spec's address or its type's default.
func addressOf(spec config.Sensor) uint16 {
	if spec.Address != 0 {
		return spec.Address
	}
	if ti, ok := lookupType(spec.Type); ok && len(ti.Addresses) > 0 {
		return ti.Addresses[0]
	}
	return 0
}

// openBMxx80 opens a BME280, BMP280 or BMP180 on I²C, or a BMx280 on SPI
// when the bus is an SPI port, and checks that the chip is the one
// configured: a BMP280 configured as a BME280 would silently lack humidity.
func openBMxx80(spec config.Sensor, buses Buses) (sensors.Sensor, error) {
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
		dev, err = bmxx80.NewI2C(b, addressOf(spec), nil)
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
func openDS18B20(spec config.Sensor, buses Buses) (sensors.Sensor, error) {
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
		ow, err := buses.OneWireBridge(spec.Bus, addressOf(spec))
		if err != nil {
			return nil, err
		}
		return sensor(ds18b20.NewOneWire(ow, spec.ROM, nil))
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
