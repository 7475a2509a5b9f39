package config

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
)

// Sensor is one configured sensor. Type selects the driver (see
// sensors/catalog); the bus and address fields are read only by the drivers
// that need them.
type Sensor struct {
	// Name is the sensor's last topic level and its "sensor" field; unique.
	Name string `yaml:"name"`
	Type string `yaml:"type"`
	// Interval is the time between reads.
	Interval Duration `yaml:"interval"`
	// Timeout bounds one read, bus transfers and conversion waits included.
	Timeout Duration `yaml:"timeout"`
	// Required makes a sensor that cannot be opened at start stop the daemon;
	// otherwise it is reported and retried.
	Required bool `yaml:"required"`

	// Bus names the bus explicitly: an I2C bus ("/dev/i2c-1", "1"), an SPI
	// port ("/dev/spidev0.0"), or for sysfs 1-Wire the devices directory.
	Bus string `yaml:"bus"`
	// Address is the I2C address, e.g. 0x76.
	Address uint16 `yaml:"address"`
	// ROM is a 1-Wire device id such as "28-0316a2799bff".
	ROM string `yaml:"rom"`
	// Bridge selects how a DS18B20 is reached: "sysfs" (w1-gpio, default)
	// or "ds2482" (an I2C bridge at Bus/Address).
	Bridge string `yaml:"bridge"`
	// Path overrides a sysfs file, e.g. the thermal zone of a "soc" sensor,
	// or names a kernel device folder (/sys/bus/iio/devices/iio:device0).
	Path string `yaml:"path"`
	// Match picks a kernel IIO or hwmon device by its driver's name, such
	// as "bme680", searched in Bus (or the subsystem's usual folder).
	Match string `yaml:"match"`
	// Seed makes a simulated sensor reproducible; 0 picks one from the name.
	Seed int64 `yaml:"seed"`

	// Samples averages this many reads into one reading.
	Samples int `yaml:"samples"`
	// Calibrate corrects a field: value*scale + offset.
	Calibrate map[string]Calibration `yaml:"calibrate"`
	// Deadband publishes a reading only when some field moved by at least
	// its deadband since the last published reading, or Heartbeat passed.
	Deadband  map[string]float64 `yaml:"deadband"`
	Heartbeat Duration           `yaml:"heartbeat"`

	// Driver holds options only some drivers have.
	Driver DriverOpts `yaml:"driver"`
}

// Calibration is a linear correction of one field.
type Calibration struct {
	Scale  *float64 `yaml:"scale"`
	Offset float64  `yaml:"offset"`
}

// DriverOpts are options specific to some drivers.
type DriverOpts struct {
	// Channels of an ADS1x15, each mapped from volts to a quantity.
	Channels []ADCChannel `yaml:"channels"`
	// ShuntOhms and MaxCurrentA configure an INA219.
	ShuntOhms   float64 `yaml:"shunt_ohms"`
	MaxCurrentA float64 `yaml:"max_current_a"`
	// VRef is an MCP3008's reference voltage in volts (0 means 3.3).
	VRef float64 `yaml:"vref"`
	// ABC turns an MH-Z19's automatic baseline correction on or off; it
	// must be given.
	ABC *bool `yaml:"abc"`
	// HeaterC and HeaterDuration are a BME680's heater step (0 means
	// 300 °C for 100 ms).
	HeaterC        float64  `yaml:"heater_c"`
	HeaterDuration Duration `yaml:"heater_duration"`
}

// ADCChannel maps one ADC input to a named quantity: field = volts*scale + offset.
type ADCChannel struct {
	Input  int     `yaml:"input"`
	Field  string  `yaml:"field"`
	Gain   float64 `yaml:"gain"`
	Scale  float64 `yaml:"scale"`
	Offset float64 `yaml:"offset"`
}

// Sensor defaults, applied by Parse to every entry that leaves them unset.
// The timeout a sensor gets is DefaultTimeout's.
const (
	DefaultSensorInterval = 10 * time.Second
	DefaultSensorTimeout  = 2 * time.Second
)

// DefaultTimeout is the timeout of a sensor read every interval whose
// type's longest read takes readTime by its datasheet (0 if unknown): the
// larger of DefaultSensorTimeout and 1.5 × readTime, a margin for a slow
// bus, but at most half the interval so that a hung read leaves time for
// the next. A read longer than half the interval gets the middle between
// readTime and the interval instead. If readTime is not shorter than the
// interval no timeout fits: the result is half the interval, which
// CheckTimeout refuses with the numbers.
func DefaultTimeout(interval, readTime time.Duration) time.Duration {
	want := max(DefaultSensorTimeout, readTime*3/2)
	switch {
	case want <= interval/2:
		return want
	case readTime <= interval/2 || readTime >= interval:
		return interval / 2
	}
	return readTime + (interval-readTime)/2
}

// SimulatedSensors replaces real sensors for `edgepub run --simulate`: a
// BME280-like environment sensor and an SoC thermometer, read every
// interval.
func SimulatedSensors(interval time.Duration) []Sensor {
	return []Sensor{
		{Name: "environment", Type: "sim-bme280", Interval: Duration(interval), Timeout: Duration(DefaultTimeout(interval, 0)), Samples: 1},
		{Name: "soc", Type: "sim-soc", Interval: Duration(interval), Timeout: Duration(DefaultTimeout(interval, 0)), Samples: 1},
	}
}

// Errors of the checks a sensor's type adds to Validate.
var (
	ErrSensorCadence = errors.New("this type must be read at one fixed interval")
	ErrSensorSpacing = errors.New("samples × the chip's spacing must fit in the interval")
	ErrDriverOption  = errors.New("driver option not taken by this type")
	ErrTimeoutShort  = errors.New("timeout shorter than a read of this type takes")
	ErrIntervalShort = errors.New("interval not longer than a read of this type takes")
)

// CheckTimeout refuses an interval that is not longer than readTime, the
// longest a read of type typ takes by its datasheet (no timeout fits
// between them), and a timeout shorter than readTime.
func (s Sensor) CheckTimeout(typ string, readTime time.Duration) error {
	if interval := s.Interval.Std(); readTime > 0 && interval <= readTime {
		return &FieldError{Key: "interval", Err: fmt.Errorf("%w: sensor %q: a read of type %s takes up to %v (opening the chip included), so an interval of %v leaves no room for its timeout: make the interval at least %v",
			ErrIntervalShort, s.Name, typ, readTime, interval, suggestedInterval(readTime))}
	}
	if timeout := s.Timeout.Std(); timeout < readTime {
		return &FieldError{Key: "timeout", Err: fmt.Errorf("%w: a read of type %s takes up to %v, longer than the timeout %v: make the timeout at least %v (and the interval longer than that)",
			ErrTimeoutShort, typ, readTime, timeout, readTime)}
	}
	return nil
}

// suggestedInterval is a round interval that leaves a read of readTime
// room for its timeout: 1.5 × readTime rounded up to a second or, below
// one, to 100 ms.
func suggestedInterval(readTime time.Duration) time.Duration {
	unit := time.Second
	if readTime*3/2 < time.Second {
		unit = 100 * time.Millisecond
	}
	return (readTime*3/2 + unit - 1).Truncate(unit)
}

// CheckTiming refuses an interval or samples that a chip of type typ
// cannot serve: spacing is the shortest time between two reads that give a
// new measurement, cadence (if not 0) the one interval the chip must be read
// at. The error names the key and gives the numbers.
func (s Sensor) CheckTiming(typ string, spacing, cadence time.Duration) error {
	interval := s.Interval.Std()
	samples := max(s.Samples, 1)
	switch {
	case cadence > 0 && interval != cadence:
		return &FieldError{Key: "interval", Err: fmt.Errorf("%w: type %s must be read every %v, not every %v (its datasheet's algorithm needs that cadence): set interval: %v",
			ErrSensorCadence, typ, cadence, interval, cadence)}
	case spacing > 0 && interval < spacing:
		return &FieldError{Key: "interval", Err: fmt.Errorf("%w: type %s gives a new value every %v, so an interval of %v reads old values: make the interval at least %v",
			ErrSensorSpacing, typ, spacing, interval, spacing)}
	case spacing > 0 && time.Duration(samples)*spacing > interval:
		most := int(interval / spacing)
		return &FieldError{Key: "samples", Err: fmt.Errorf("%w: %d samples of type %s take %d × %v = %v, more than the interval %v: make the interval at least %v or samples at most %d",
			ErrSensorSpacing, samples, typ, samples, spacing, time.Duration(samples)*spacing, interval, time.Duration(samples)*spacing, most)}
	}
	return nil
}

// CheckDriverKeys refuses a driver option that type typ does not take;
// taken lists the keys it does.
func (s Sensor) CheckDriverKeys(typ string, taken []string) error {
	for _, key := range s.Driver.keys() {
		if !slices.Contains(taken, key) {
			hint := "it takes no driver options"
			if len(taken) > 0 {
				hint = "it takes " + strings.Join(taken, ", ")
			}
			return &FieldError{Key: "driver." + key, Err: fmt.Errorf("%w: type %s does not use %s (%s)", ErrDriverOption, typ, key, hint)}
		}
	}
	return nil
}

// keys lists the driver options given, by their YAML names.
func (d DriverOpts) keys() []string {
	var keys []string
	v := reflect.ValueOf(d)
	for i := range v.NumField() {
		if !v.Field(i).IsZero() {
			name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ",")
			keys = append(keys, name)
		}
	}
	return keys
}
