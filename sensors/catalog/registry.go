package catalog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/edgepub/edgepub/config"
	"github.com/edgepub/edgepub/sensors"
	"github.com/edgepub/edgepub/sensors/ads1x15"
	"github.com/edgepub/edgepub/sensors/aht20"
	"github.com/edgepub/edgepub/sensors/am2320"
	"github.com/edgepub/edgepub/sensors/bh1750"
	"github.com/edgepub/edgepub/sensors/hdc302x"
	"github.com/edgepub/edgepub/sensors/ina219"
	"github.com/edgepub/edgepub/sensors/mcp9808"
	"github.com/edgepub/edgepub/sensors/mhz19"
	"github.com/edgepub/edgepub/sensors/pms5003"
	"github.com/edgepub/edgepub/sensors/scd4x"
	"github.com/edgepub/edgepub/sensors/sgp30"
	"github.com/edgepub/edgepub/sensors/sht3x"
	"github.com/edgepub/edgepub/sensors/sht4x"
	"github.com/edgepub/edgepub/sensors/sim"
	"github.com/edgepub/edgepub/sensors/soc"
	"github.com/edgepub/edgepub/sensors/tmp102"
	"github.com/edgepub/edgepub/sensors/tsl2591"
	"github.com/edgepub/edgepub/sensors/veml7700"
	"periph.io/x/conn/v3/i2c"
)

// TypeInfo is one sensor type: what the configuration calls it, what it
// is, how it is connected, what it reports, and how to open it. Types is
// the one list of them; Open, Scan, the configuration check, `edgepub
// sensors types` and the README's table all read it.
type TypeInfo struct {
	// Name is the value of a sensor's type in the configuration.
	Name string
	// Chip names the device: maker and part, such as "Bosch BME280".
	Chip string
	// Summary says what it measures, and which driver options it has.
	Summary string
	// Bus says how it is connected: "i2c", "i2c or spi", "1-wire", "file"
	// or "none".
	Bus string
	// Fields are the names of the values it reports.
	Fields []string
	// Addresses are the I²C addresses it can have, the default first; a
	// configuration that gives no address gets the default. For ds18b20
	// they are the DS2482 bridge's: periph's ds248x takes only 0x18 and 0x19
	// of the four a DS2482-100 can have.
	Addresses []uint16
	// ChipIDs are the values of the chip's identification register that
	// its driver accepts (the Bosch chip id, the MCP9808's manufacturer
	// id, the HDC302x's manufacturer id, the SGP30's product type). Scan
	// names the chip only for these.
	ChipIDs []uint16
	// Spacing is the shortest time between two reads that each give a
	// new measurement: the chip measures on its own schedule, or its
	// datasheet forbids faster reads. Samples of one reading are spaced
	// by it, and the configuration check refuses a samples × spacing that
	// does not fit the interval.
	Spacing time.Duration
	// ReadTime is the longest one read takes by the datasheet, the first
	// included, which opens the chip: a timeout shorter than that fails
	// reads that are fine. A sensor that gives no timeout gets
	// config.DefaultTimeout's for it (see ReadTime).
	ReadTime time.Duration
	// WarmUp is how long after opening the chip may report
	// sensors.ErrWarmingUp instead of a value: a one-off read waits that
	// long.
	WarmUp time.Duration
	// Cadence, if set, is the one interval the type may be read at: the
	// SGP30's baseline algorithm needs a measurement every second.
	Cadence time.Duration
	// Options are the driver: keys the type takes.
	Options []string
	// CheckOptions, if set, reports what Open would refuse in the
	// configuration, without hardware.
	CheckOptions func(spec config.Sensor) error
	// Overlay is the line for /boot/firmware/config.txt that loads the
	// kernel driver a kernel-read type needs, or that enables its bus.
	Overlay string
	// kernel says how a type read through the kernel finds its device.
	kernel kernelDevice
	// Open sets the sensor up. spec.Address is already the default if the
	// configuration gave none.
	Open func(ctx context.Context, spec config.Sensor, buses Buses) (sensors.Sensor, error)
}

// Types lists every type Open knows, sorted by name. To add a type, add
// one entry here.
func Types() []TypeInfo {
	const (
		t  = "temperature_c"
		rh = "humidity_pct"
		p  = "pressure_hpa"
	)
	var (
		anyIIO   = kernelDevice{subsystem: "iio"}
		anyHwmon = kernelDevice{subsystem: "hwmon"}
		// The kernel's dht11 driver keeps a reading for 2 s
		// (DHT11_DATA_VALID_TIME); the DHT22 measures at most every 2 s.
		dht         = kernelDevice{subsystem: "iio", match: "dht11", spacing: 2 * time.Second}
		sht3xKernel = kernelDevice{subsystem: "hwmon", match: "sht3x"}
		// The bme680 driver's gas channel and the mcp320x driver's inputs
		// are published under the own drivers' names.
		bme680Kernel  = kernelDevice{subsystem: "iio", match: "bme680", rename: map[string]string{"resistance_ohm": "gas_ohm"}}
		mcp3008Kernel = kernelDevice{subsystem: "iio", match: "mcp3008", rename: adcFields(8)}
	)
	types := []TypeInfo{
		{Name: "bme280", Chip: "Bosch BME280", Summary: "temperature, humidity and pressure; with no bus, through the kernel's bmp280 driver", Bus: "i2c, spi or iio",
			Fields: []string{t, rh, p}, Addresses: []uint16{0x76, 0x77}, ChipIDs: []uint16{bmeChipID}, ReadTime: bmx280ReadTime,
			Overlay: "dtoverlay=i2c-sensor,bme280",
			kernel:  boschKernel("bme280"), Open: ownOrKernel(boschKernel("bme280"), openBMxx80)},
		{Name: "bmp280", Chip: "Bosch BMP280", Summary: "temperature and pressure; with no bus, through the kernel's bmp280 driver", Bus: "i2c, spi or iio",
			Fields: []string{t, p}, Addresses: []uint16{0x76, 0x77}, ChipIDs: []uint16{bmp280ChipID}, ReadTime: bmx280ReadTime,
			Overlay: "dtoverlay=i2c-sensor,bmp280",
			kernel:  boschKernel("bmp280"), Open: ownOrKernel(boschKernel("bmp280"), openBMxx80)},
		{Name: "bmp180", Chip: "Bosch BMP180", Summary: "temperature and pressure; with no bus, through the kernel's bmp280 driver", Bus: "i2c or iio",
			Fields: []string{t, p}, Addresses: []uint16{0x77}, ChipIDs: []uint16{bmp180ChipID},
			Overlay: "dtoverlay=i2c-sensor,bmp180",
			kernel:  boschKernel("bmp180"), Open: ownOrKernel(boschKernel("bmp180"), openBMxx80)},
		{Name: "aht20", Chip: "Aosong AHT20", Summary: "temperature and humidity", Bus: "i2c",
			Fields: []string{t, rh}, Addresses: []uint16{0x38}, ReadTime: aht20.MaxReadTime,
			Open: onI2C(func(_ context.Context, b i2c.Bus, spec config.Sensor) (sensors.Sensor, error) {
				return sensor(aht20.NewI2C(b, spec.Address, nil))
			})},
		// The datasheet (sections 8.2.4, 8.3.3) asks for 2 s between reads.
		{Name: "am2320", Chip: "Aosong AM2320", Summary: "temperature and humidity", Bus: "i2c",
			Fields: []string{t, rh}, Addresses: []uint16{0x5c}, Spacing: am2320.MinSpacing,
			Open: onI2C(func(_ context.Context, b i2c.Bus, spec config.Sensor) (sensors.Sensor, error) {
				return sensor(am2320.NewI2C(b, spec.Address, nil))
			})},
		{Name: "sht4x", Chip: "Sensirion SHT40/41/45", Summary: "temperature and humidity", Bus: "i2c",
			Fields: []string{t, rh}, Addresses: []uint16{0x44, 0x45, 0x46},
			Open: onI2C(func(_ context.Context, b i2c.Bus, spec config.Sensor) (sensors.Sensor, error) {
				return sensor(sht4x.NewI2C(b, spec.Address, nil))
			})},
		// Each result can be read once; the chip measures once a second.
		{Name: "hdc302x", Chip: "TI HDC3020/3021/3022", Summary: "temperature and humidity", Bus: "i2c",
			Fields: []string{t, rh}, Addresses: []uint16{0x44, 0x45, 0x46, 0x47}, ChipIDs: []uint16{hdc302xManufacturerID},
			Spacing: hdc302x.Period(hdc302x.DefaultOpts.SampleRate), ReadTime: hdc302x.Period(hdc302x.DefaultOpts.SampleRate) + 10*time.Millisecond,
			Open: onI2C(func(_ context.Context, b i2c.Bus, spec config.Sensor) (sensors.Sensor, error) {
				return sensor(hdc302x.NewI2C(b, spec.Address, nil))
			})},
		{Name: "mcp9808", Chip: "Microchip MCP9808", Summary: "temperature", Bus: "i2c",
			Fields: []string{t}, Addresses: addrRange(0x18, 0x1f), ChipIDs: []uint16{mcp9808ManufacturerID}, ReadTime: 260 * time.Millisecond, // 250 ms conversion at 0.0625 °C
			Open: onI2C(func(_ context.Context, b i2c.Bus, spec config.Sensor) (sensors.Sensor, error) {
				return sensor(mcp9808.NewI2C(b, spec.Address, nil))
			})},
		{Name: "tmp102", Chip: "TI TMP102", Summary: "temperature", Bus: "i2c",
			Fields: []string{t}, Addresses: addrRange(0x48, 0x4b),
			Open: onI2C(func(_ context.Context, b i2c.Bus, spec config.Sensor) (sensors.Sensor, error) {
				return sensor(tmp102.NewI2C(b, spec.Address, nil))
			})},
		{Name: "ds18b20", Chip: "Maxim DS18B20/DS1822/DS1825/MAX31850", Bus: "1-wire", Fields: []string{t}, Addresses: []uint16{0x18, 0x19},
			ReadTime: 800 * time.Millisecond, // 750 ms conversion at 12 bits, and a 10 ms EEPROM write at the first
			Summary:  "1-Wire temperature probe, via the kernel's w1-gpio bus (bridge: sysfs) or a DS2482 I²C bridge (bridge: ds2482)",
			Open:     openDS18B20},
		{Name: "scd4x", Chip: "Sensirion SCD40/41", Summary: "CO₂, temperature and humidity (a new value every 5 s)", Bus: "i2c",
			Fields: []string{"co2_ppm", t, rh}, Addresses: []uint16{scd4x.Addr}, Spacing: scd4x.Period, WarmUp: scd4x.WarmUp, ReadTime: 600 * time.Millisecond, // 500 ms after stop at the first
			Open: onI2C(func(ctx context.Context, b i2c.Bus, spec config.Sensor) (sensors.Sensor, error) {
				return sensor(scd4x.NewI2C(ctx, b, spec.Address, nil))
			})},
		{Name: "sgp30", Chip: "Sensirion SGP30", Summary: "TVOC and CO₂ equivalent (read it every 1 s)", Bus: "i2c",
			Fields: []string{"tvoc_ppb", "eco2_ppm"}, Addresses: []uint16{sgp30.Addr}, ChipIDs: []uint16{sgp30.ProductType}, Spacing: sgp30.Cadence, Cadence: sgp30.Cadence, WarmUp: sgp30.WarmUp,
			Open: onI2C(func(ctx context.Context, b i2c.Bus, spec config.Sensor) (sensors.Sensor, error) {
				return sensor(sgp30.NewI2C(ctx, b, spec.Address, nil))
			})},
		{Name: "bh1750", Chip: "ROHM BH1750", Summary: "ambient light", Bus: "i2c",
			Fields: []string{"illuminance_lux"}, Addresses: []uint16{0x23, 0x5c}, ReadTime: 200 * time.Millisecond, // 180 ms high-resolution conversion
			Open: onI2C(func(_ context.Context, b i2c.Bus, spec config.Sensor) (sensors.Sensor, error) {
				return sensor(bh1750.NewI2C(b, spec.Address, nil))
			})},
		{Name: "ina219", Chip: "TI INA219", Summary: "bus voltage, current and power (driver: shunt_ohms, max_current_a)", Bus: "i2c",
			Fields: []string{"voltage_v", "current_a", "power_w"}, Addresses: addrRange(0x40, 0x4f),
			Options: []string{"shunt_ohms", "max_current_a"},
			CheckOptions: func(spec config.Sensor) error {
				return ina219.CheckOpts(&ina219.Opts{ShuntOhms: spec.Driver.ShuntOhms, MaxCurrentA: spec.Driver.MaxCurrentA})
			},
			Open: onI2C(func(_ context.Context, b i2c.Bus, spec config.Sensor) (sensors.Sensor, error) {
				opts := &ina219.Opts{ShuntOhms: spec.Driver.ShuntOhms, MaxCurrentA: spec.Driver.MaxCurrentA}
				return sensor(ina219.NewI2C(b, spec.Address, opts))
			})},
		{Name: "ads1115", Chip: "TI ADS1115", Summary: "16-bit ADC, inputs mapped to quantities (driver: channels)", Bus: "i2c",
			Fields: []string{"ain0_v"}, Addresses: addrRange(0x48, 0x4b),
			Options: []string{"channels"}, CheckOptions: func(spec config.Sensor) error { return ads1x15.CheckADS1115(adcOpts(spec)) },
			Open: onI2C(func(_ context.Context, b i2c.Bus, spec config.Sensor) (sensors.Sensor, error) {
				return sensor(ads1x15.NewADS1115(b, spec.Address, adcOpts(spec)))
			})},
		{Name: "ads1015", Chip: "TI ADS1015", Summary: "12-bit ADC, inputs mapped to quantities (driver: channels)", Bus: "i2c",
			Fields: []string{"ain0_v"}, Addresses: addrRange(0x48, 0x4b),
			Options: []string{"channels"}, CheckOptions: func(spec config.Sensor) error { return ads1x15.CheckADS1015(adcOpts(spec)) },
			Open: onI2C(func(_ context.Context, b i2c.Bus, spec config.Sensor) (sensors.Sensor, error) {
				return sensor(ads1x15.NewADS1015(b, spec.Address, adcOpts(spec)))
			})},
		{Name: "soc", Chip: "Raspberry Pi SoC", Summary: "the CPU temperature from the kernel (path: the thermal zone's temp file)", Bus: "file",
			Fields: []string{"soc_temperature_c"},
			Open: func(_ context.Context, spec config.Sensor, _ Buses) (sensors.Sensor, error) {
				return sensor(soc.New(&soc.Opts{Path: spec.Path}))
			}},
		{Name: "sim-bme280", Chip: "simulated BME280", Summary: "a BME280 on a desk indoors", Bus: "none",
			Fields: []string{t, rh, p},
			Open: func(_ context.Context, spec config.Sensor, _ Buses) (sensors.Sensor, error) {
				return sim.NewBME280(&sim.Opts{Seed: simSeed(spec)}), nil
			}},
		{Name: "sim-soc", Chip: "simulated Raspberry Pi SoC", Summary: "a CPU temperature", Bus: "none",
			Fields: []string{"soc_temperature_c"},
			Open: func(_ context.Context, spec config.Sensor, _ Buses) (sensors.Sensor, error) {
				return sim.NewSoC(&sim.Opts{Seed: simSeed(spec)}), nil
			}},
		// Read through the kernel: a dtoverlay line loads the driver, which
		// does the bus timing (the DHT's microsecond pulses cannot be timed
		// from user space reliably).
		{Name: "iio", Chip: "any Linux IIO device", Bus: "iio",
			Summary: "the fields of the channels it has, in edgepub's units (path: the device folder, or match: the driver's name)",
			Fields:  []string{t, rh, p, "voltage_v", "current_a", "power_w", "illuminance_lux", "resistance_ohm", "co2_ppm", "tvoc_ppb", "uv_index"},
			kernel:  anyIIO, Open: openKernel(anyIIO)},
		{Name: "hwmon", Chip: "any Linux hwmon device", Bus: "hwmon",
			Summary: "the fields of the *_input attributes it has, in edgepub's units (path: the device folder, or match: the driver's name)",
			Fields:  []string{"voltage_v", "current_a", "power_w", t, rh, "fan_rpm"},
			kernel:  anyHwmon, Open: openKernel(anyHwmon)},
		kernelType("dht11", "Aosong DHT11", "temperature and humidity, through the kernel's dht11 driver",
			"dtoverlay=dht11,gpiopin=4", dht, t, rh),
		kernelType("dht22", "Aosong DHT22/AM2302", "temperature and humidity, through the kernel's dht11 driver",
			"dtoverlay=dht11,gpiopin=4", dht, t, rh),
		kernelType("htu21", "TE HTU21D/SHT21", "temperature and humidity, through the kernel's htu21 driver",
			"dtoverlay=i2c-sensor,htu21", kernelDevice{subsystem: "iio", match: "htu21"}, t, rh),
		kernelType("si7020", "Silicon Labs Si7020/Si7021", "temperature and humidity, through the kernel's si7020 driver",
			"dtoverlay=i2c-sensor,si7020", kernelDevice{subsystem: "iio", match: "si7020"}, t, rh),
		kernelType("hdc100x", "TI HDC1000/HDC1080", "temperature and humidity, through the kernel's hdc100x driver",
			"dtoverlay=i2c-sensor,hdc100x", kernelDevice{subsystem: "iio", match: "hdc100x"}, t, rh),
		kernelType("tsl4531", "AMS TSL4531", "ambient light, through the kernel's tsl4531 driver",
			"dtoverlay=i2c-sensor,tsl4531", kernelDevice{subsystem: "iio", match: "tsl4531"}, "illuminance_lux"),
		kernelType("veml6070", "Vishay VEML6070", "UV index, through the kernel's veml6070 driver",
			"dtoverlay=i2c-sensor,veml6070", kernelDevice{subsystem: "iio", match: "veml6070"}, "uv_index"),
		kernelType("lm75", "NXP/TI LM75", "temperature, through the kernel's lm75 hwmon driver",
			"dtoverlay=i2c-sensor,lm75,addr=0x48", kernelDevice{subsystem: "hwmon", match: "lm75"}, t),
		// Own drivers that can also go through the kernel: an I²C bus or
		// SPI port selects the own driver, no bus (or path, match) the
		// kernel's.
		{Name: "sht3x", Chip: "Sensirion SHT30/31/35", Bus: "i2c or hwmon", Fields: []string{t, rh}, Addresses: []uint16{0x44, 0x45},
			Summary: "temperature and humidity; with no bus, through the kernel's sht3x driver",
			Overlay: "dtoverlay=i2c-sensor,sht3x",
			kernel:  sht3xKernel,
			Open: ownOrKernel(sht3xKernel, onI2C(func(_ context.Context, b i2c.Bus, spec config.Sensor) (sensors.Sensor, error) {
				return sensor(sht3x.NewI2C(b, spec.Address, nil))
			}))},
		{Name: "bme680", Chip: "Bosch BME680/BME688", Bus: "i2c or iio", Fields: []string{t, rh, p, "gas_ohm"}, Addresses: []uint16{0x76, 0x77},
			ChipIDs: []uint16{bme680ChipID},
			Summary: "temperature, humidity, pressure and gas resistance (driver: heater_c, heater_duration); with no bus, through the kernel's bme680 driver",
			Overlay: "dtoverlay=i2c-sensor,bme680",
			Options: []string{"heater_c", "heater_duration"}, CheckOptions: checkBME680,
			kernel: bme680Kernel,
			Open:   ownOrKernel(bme680Kernel, onI2C(openBME680))},
		{Name: "mcp3008", Chip: "Microchip MCP3008", Bus: "spi or iio", Fields: []string{"ain0_v"},
			Summary: "10-bit ADC, inputs mapped to quantities (driver: channels, vref); with no bus, through the kernel's mcp320x driver",
			Overlay: "dtoverlay=mcp3008,spi0-0-present",
			Options: []string{"channels", "vref"}, CheckOptions: checkMCP3008,
			kernel: mcp3008Kernel,
			Open:   ownOrKernel(mcp3008Kernel, openMCP3008)},
		{Name: "veml7700", Chip: "Vishay VEML7700", Summary: "ambient light", Bus: "i2c",
			Fields: []string{"illuminance_lux"}, Addresses: []uint16{veml7700.Addr}, Overlay: "dtparam=i2c_arm=on",
			Open: onI2C(func(_ context.Context, b i2c.Bus, spec config.Sensor) (sensors.Sensor, error) {
				return sensor(veml7700.NewI2C(b, spec.Address, nil))
			})},
		{Name: "tsl2591", Chip: "ams TSL2591", Summary: "ambient light, up to about 6000 lx (gain 25×, 100 ms)", Bus: "i2c",
			Fields: []string{"illuminance_lux"}, Addresses: []uint16{tsl2591.Addr}, ChipIDs: []uint16{tsl2591.DeviceID},
			Spacing: tsl2591.DefaultOpts.IntegrationTime, ReadTime: tsl2591.MaxReadTime, Overlay: "dtparam=i2c_arm=on",
			Open: onI2C(func(_ context.Context, b i2c.Bus, spec config.Sensor) (sensors.Sensor, error) {
				return sensor(tsl2591.NewI2C(b, spec.Address, nil))
			})},
		// Serial sensors: bus is the port.
		{Name: "pms5003", Chip: "Plantower PMS5003/7003/A003", Summary: "particulate matter (passive mode; the fan needs 30 s after power-up)", Bus: "uart",
			Fields: []string{"pm1_0_ugm3", "pm2_5_ugm3", "pm10_ugm3"}, WarmUp: pms5003.WarmUp,
			Overlay: "enable_uart=1",
			Open:    openPMS5003},
		{Name: "mhz19", Chip: "Winsen MH-Z19B/C", Summary: "CO₂ (driver: abc, which must be given; 3 min preheat)", Bus: "uart",
			Fields: []string{"co2_ppm"}, WarmUp: mhz19.WarmUp,
			Overlay: "enable_uart=1",
			Options: []string{"abc"}, CheckOptions: checkMHZ19,
			Open: openMHZ19},
	}
	slices.SortFunc(types, func(a, b TypeInfo) int { return strings.Compare(a.Name, b.Name) })
	return types
}

// bmx280ReadTime is the BMx280's longest forced conversion with the status
// polls bmxx80 allows, and the reads around it.
const bmx280ReadTime = 250 * time.Millisecond

// Identification values the drivers accept (ChipIDs).
const (
	bmeChipID             = 0x60   // BME280 datasheet, register 0xD0 "id"
	bmp280ChipID          = 0x58   // BMP280 datasheet, register 0xD0 "id"; periph refuses the samples' 0x56 and 0x57
	bmp180ChipID          = 0x55   // BMP180 datasheet, register 0xD0
	mcp9808ManufacturerID = 0x0054 // MCP9808 datasheet, register 0x06
	hdc302xManufacturerID = 0x3000 // HDC302x datasheet, command 0x3781
	bme680ChipID          = 0x61   // BME680 datasheet, register 0xD0 "chip_id"
)

// Lookup returns the type named name.
func Lookup(name string) (TypeInfo, bool) {
	types := Types()
	i := slices.IndexFunc(types, func(ti TypeInfo) bool { return ti.Name == name })
	if i < 0 {
		return TypeInfo{}, false
	}
	return types[i], true
}

// ReadTime is the longest read of the type named name by its datasheet, 0
// for an unknown type: config.Parser's ReadTime, which picks each sensor's
// default timeout from it.
func ReadTime(name string) time.Duration {
	ti, _ := Lookup(name)
	return ti.ReadTime
}

// typeNames lists the names of Types for an error message.
func typeNames() string {
	var names []string
	for _, ti := range Types() {
		names = append(names, ti.Name)
	}
	return strings.Join(names, ", ")
}

// onI2C makes an Open function for a type on an I²C bus: it opens spec's bus
// and calls open with it.
func onI2C(open func(context.Context, i2c.Bus, config.Sensor) (sensors.Sensor, error)) func(context.Context, config.Sensor, Buses) (sensors.Sensor, error) {
	return func(ctx context.Context, spec config.Sensor, buses Buses) (sensors.Sensor, error) {
		if spec.Bus == "" {
			return nil, errNoBusName
		}
		b, err := buses.I2C(spec.Bus)
		if err != nil {
			return nil, err
		}
		return open(ctx, b, spec)
	}
}

// addrRange lists the addresses from lo to hi.
func addrRange(lo, hi uint16) []uint16 {
	var a []uint16
	for x := lo; x <= hi; x++ {
		a = append(a, x)
	}
	return a
}

// String is the type's line in `edgepub sensors types`: name, chip, bus,
// fields.
func (ti TypeInfo) String() string {
	return fmt.Sprintf("%-12s %-28s %-15s %s", ti.Name, ti.Chip, ti.Bus, strings.Join(ti.Fields, ","))
}

// Check validates what the configuration says of each sensor against its
// type, without touching hardware (see CheckSensor). It returns each
// sensor's first problem, a *config.FieldError naming the sensor's key.
func Check(specs []config.Sensor) error {
	var errs []error
	for i, spec := range specs {
		var fe *config.FieldError
		if err := CheckSensor(spec); errors.As(err, &fe) {
			errs = append(errs, &config.FieldError{Key: fmt.Sprintf("sensors[%d].%s", i, fe.Key), Err: fe.Err})
		}
	}
	return errors.Join(errs...)
}

// CheckSensor validates one sensor against its type, without touching
// hardware: the type exists, the timeout fits the longest read, the
// interval and samples fit the chip's timing, and the driver options are
// ones the type takes, with values it accepts. It returns the first
// problem as a *config.FieldError whose key is relative to the sensor
// ("samples", "driver.channels").
func CheckSensor(spec config.Sensor) error {
	ti, ok := Lookup(spec.Type)
	if !ok {
		return &config.FieldError{Key: "type", Err: unknownType(spec.Type)}
	}
	for _, err := range []error{
		spec.CheckTimeout(ti.Name, ti.ReadTime),
		spec.CheckTiming(ti.Name, ti.Spacing, ti.Cadence),
		spec.CheckDriverKeys(ti.Name, ti.Options),
	} {
		if err != nil {
			return err
		}
	}
	if ti.CheckOptions != nil {
		if err := ti.CheckOptions(spec); err != nil {
			return &config.FieldError{Key: "driver", Err: err}
		}
	}
	return nil
}

// unknownType names the closest known type, for a typo.
func unknownType(name string) error {
	// One edit, or two in a long name, is a typo; dht22 is no aht20.
	best, bestDist := "", 2+len(name)/8
	for _, ti := range Types() {
		if d := editDistance(strings.ToLower(name), ti.Name); d < bestDist {
			best, bestDist = ti.Name, d
		}
	}
	if best != "" {
		return fmt.Errorf("unknown type %q: did you mean %s? (edgepub sensors types lists them all)", name, best)
	}
	return fmt.Errorf("unknown type %q: choose one of %s", name, typeNames())
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
