package catalog

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/edgepub/edgepub/config"
	"github.com/edgepub/edgepub/sensors"
	"github.com/edgepub/edgepub/sensors/bme680"
	"github.com/edgepub/edgepub/sensors/mcp3008"
	"github.com/edgepub/edgepub/sensors/mhz19"
	"github.com/edgepub/edgepub/sensors/pms5003"
	"periph.io/x/conn/v3/i2c"
)

// openPMS5003 opens a PMS5003 on the serial port spec.Bus names.
func openPMS5003(_ context.Context, spec config.Sensor, _ Buses) (sensors.Sensor, error) {
	if spec.Bus == "" {
		return nil, errNoPort
	}
	return sensor(pms5003.Open(spec.Bus, nil))
}

// openMHZ19 opens an MH-Z19 on the serial port spec.Bus names, with the
// ABC setting the configuration must give.
func openMHZ19(_ context.Context, spec config.Sensor, _ Buses) (sensors.Sensor, error) {
	if spec.Bus == "" {
		return nil, errNoPort
	}
	if err := checkMHZ19(spec); err != nil {
		return nil, err
	}
	opts := mhz19.Opts{ABC: mhz19.ABCOff}
	if *spec.Driver.ABC {
		opts.ABC = mhz19.ABCOn
	}
	return sensor(mhz19.Open(spec.Bus, opts))
}

// errNoABC is returned for an MH-Z19 whose ABC setting is not given.
var errNoABC = errors.New("driver.abc is not set: give abc: true if the sensor sees fresh air (400 ppm) every day, as in an aired office, or abc: false if it does not, as in a greenhouse or bedroom")

// checkMHZ19 refuses an MH-Z19 without its ABC setting.
func checkMHZ19(spec config.Sensor) error {
	if spec.Driver.ABC == nil {
		return errNoABC
	}
	return nil
}

// bme680Opts is the own driver's options with the configured heater.
func bme680Opts(spec config.Sensor) *bme680.Opts {
	opts := bme680.DefaultOpts
	if spec.Driver.HeaterC != 0 {
		opts.Heater.TargetC = spec.Driver.HeaterC
	}
	if d := time.Duration(spec.Driver.HeaterDuration); d != 0 {
		opts.Heater.Duration = d
	}
	return &opts
}

func checkBME680(spec config.Sensor) error { return bme680.CheckOpts(bme680Opts(spec)) }

// openBME680 opens edgepub's own BME680 driver with the configured heater.
func openBME680(_ context.Context, b i2c.Bus, spec config.Sensor) (sensors.Sensor, error) {
	return sensor(bme680.NewI2C(b, spec.Address, bme680Opts(spec)))
}

// mcp3008Opts maps the configured channels and reference to the driver's.
func mcp3008Opts(spec config.Sensor) *mcp3008.Opts {
	opts := &mcp3008.Opts{VRef: spec.Driver.VRef}
	for _, c := range spec.Driver.Channels {
		opts.Channels = append(opts.Channels, mcp3008.Channel{Input: c.Input, Field: c.Field, Scale: c.Scale, Offset: c.Offset})
	}
	return opts
}

func checkMCP3008(spec config.Sensor) error { return mcp3008.CheckOpts(mcp3008Opts(spec)) }

// openMCP3008 opens edgepub's own MCP3008 driver on the SPI port spec.Bus
// names, closing the port again if the configuration is refused.
func openMCP3008(_ context.Context, spec config.Sensor, buses Buses) (sensors.Sensor, error) {
	if !isSPI(spec.Bus) {
		return nil, fmt.Errorf("bus %q is not an SPI port: name one, such as bus: /dev/spidev0.0, or leave bus empty to read the kernel's mcp3008 driver", spec.Bus)
	}
	p, err := buses.SPI(spec.Bus)
	if err != nil {
		return nil, err
	}
	d, err := mcp3008.NewSPI(p, mcp3008Opts(spec))
	if err != nil {
		return nil, errors.Join(err, p.Close())
	}
	return d, nil
}
