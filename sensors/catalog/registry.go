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
	"github.com/edgepub/edgepub/sensors/scd4x"
	"github.com/edgepub/edgepub/sensors/sgp30"
	"github.com/edgepub/edgepub/sensors/sht4x"
	"github.com/edgepub/edgepub/sensors/sim"
	"github.com/edgepub/edgepub/sensors/soc"
	"github.com/edgepub/edgepub/sensors/tmp102"
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
	// id, the HDC302x's manufacturer id). Scan names the chip only for
	// these.
	ChipIDs []uint16
	// Spacing is the shortest time between two reads that each give a
	// new measurement: the chip measures on its own schedule, or its
	// datasheet forbids faster reads. Samples of one reading are spaced
	// by it, and the configuration check refuses a samples × spacing that
	// does not fit the interval.
	Spacing time.Duration
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
	types := []TypeInfo{
		{Name: "bme280", Chip: "Bosch BME280", Summary: "temperature, humidity and pressure", Bus: "i2c or spi",
			Fields: []string{t, rh, p}, Addresses: []uint16{0x76, 0x77}, ChipIDs: []uint16{bmeChipID}, Open: openBMxx80},
		{Name: "bmp280", Chip: "Bosch BMP280", Summary: "temperature and pressure", Bus: "i2c or spi",
			Fields: []string{t, p}, Addresses: []uint16{0x76, 0x77}, ChipIDs: []uint16{bmp280ChipID}, Open: openBMxx80},
		{Name: "bmp180", Chip: "Bosch BMP180", Summary: "temperature and pressure", Bus: "i2c",
			Fields: []string{t, p}, Addresses: []uint16{0x77}, ChipIDs: []uint16{bmp180ChipID}, Open: openBMxx80},
		{Name: "aht20", Chip: "Aosong AHT20", Summary: "temperature and humidity", Bus: "i2c",
			Fields: []string{t, rh}, Addresses: []uint16{0x38},
			Open: onI2C(func(_ context.Context, b i2c.Bus, spec config.Sensor) (sensors.Sensor, error) {
				return sensor(aht20.NewI2C(b, spec.Address, nil))
			})},
		// Datasheet section 7.3: at least 2 s between two reads.
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
			Spacing: hdc302x.Period(hdc302x.DefaultOpts.SampleRate),
			Open: onI2C(func(_ context.Context, b i2c.Bus, spec config.Sensor) (sensors.Sensor, error) {
				return sensor(hdc302x.NewI2C(b, spec.Address, nil))
			})},
		{Name: "mcp9808", Chip: "Microchip MCP9808", Summary: "temperature", Bus: "i2c",
			Fields: []string{t}, Addresses: addrRange(0x18, 0x1f), ChipIDs: []uint16{mcp9808ManufacturerID},
			Open: onI2C(func(_ context.Context, b i2c.Bus, spec config.Sensor) (sensors.Sensor, error) {
				return sensor(mcp9808.NewI2C(b, spec.Address, nil))
			})},
		{Name: "tmp102", Chip: "TI TMP102", Summary: "temperature", Bus: "i2c",
			Fields: []string{t}, Addresses: addrRange(0x48, 0x4b),
			Open: onI2C(func(_ context.Context, b i2c.Bus, spec config.Sensor) (sensors.Sensor, error) {
				return sensor(tmp102.NewI2C(b, spec.Address, nil))
			})},
		{Name: "ds18b20", Chip: "Maxim DS18B20/DS1822/DS1825", Bus: "1-wire", Fields: []string{t}, Addresses: []uint16{0x18, 0x19},
			Summary: "1-Wire temperature probe, via the kernel's w1-gpio bus (bridge: sysfs) or a DS2482 I²C bridge (bridge: ds2482)",
			Open:    openDS18B20},
		{Name: "scd4x", Chip: "Sensirion SCD40/41", Summary: "CO₂, temperature and humidity (a new value every 5 s)", Bus: "i2c",
			Fields: []string{"co2_ppm", t, rh}, Addresses: []uint16{scd4x.Addr}, Spacing: scd4x.Period, WarmUp: scd4x.WarmUp,
			Open: onI2C(func(ctx context.Context, b i2c.Bus, spec config.Sensor) (sensors.Sensor, error) {
				return sensor(scd4x.NewI2C(ctx, b, spec.Address, nil))
			})},
		{Name: "sgp30", Chip: "Sensirion SGP30", Summary: "TVOC and CO₂ equivalent (read it every 1 s)", Bus: "i2c",
			Fields: []string{"tvoc_ppb", "eco2_ppm"}, Addresses: []uint16{sgp30.Addr}, Spacing: sgp30.Cadence, Cadence: sgp30.Cadence, WarmUp: sgp30.WarmUp,
			Open: onI2C(func(ctx context.Context, b i2c.Bus, spec config.Sensor) (sensors.Sensor, error) {
				return sensor(sgp30.NewI2C(ctx, b, spec.Address, nil))
			})},
		{Name: "bh1750", Chip: "ROHM BH1750", Summary: "ambient light", Bus: "i2c",
			Fields: []string{"illuminance_lux"}, Addresses: []uint16{0x23, 0x5c},
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
	}
	slices.SortFunc(types, func(a, b TypeInfo) int { return strings.Compare(a.Name, b.Name) })
	return types
}

// Identification values the drivers accept (ChipIDs).
const (
	bmeChipID             = 0x60   // BME280 datasheet, register 0xD0 "id"
	bmp280ChipID          = 0x58   // BMP280 datasheet, register 0xD0 "id"; periph refuses the samples' 0x56 and 0x57
	bmp180ChipID          = 0x55   // BMP180 datasheet, register 0xD0
	mcp9808ManufacturerID = 0x0054 // MCP9808 datasheet, register 0x06
	hdc302xManufacturerID = 0x3000 // HDC302x datasheet, command 0x3781
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
	return fmt.Sprintf("%-12s %-28s %-11s %s", ti.Name, ti.Chip, ti.Bus, strings.Join(ti.Fields, ","))
}

// Check validates what the configuration says of each sensor against its
// type, without touching hardware: the type exists, the interval and
// samples fit the chip's timing, and the driver options are ones the type
// takes, with values it accepts. It returns every problem found, each a
// *config.FieldError naming the sensor's key.
func Check(specs []config.Sensor) error {
	var errs []error
	for i, spec := range specs {
		key := fmt.Sprintf("sensors[%d]", i)
		ti, ok := Lookup(spec.Type)
		if !ok {
			errs = append(errs, &config.FieldError{Key: key + ".type", Err: unknownType(spec.Type)})
			continue
		}
		for _, err := range []error{
			spec.CheckTiming(ti.Name, ti.Spacing, ti.Cadence),
			spec.CheckDriverKeys(ti.Name, ti.Options),
		} {
			var fe *config.FieldError
			if errors.As(err, &fe) {
				errs = append(errs, &config.FieldError{Key: key + "." + fe.Key, Err: fe.Err})
			}
		}
		if ti.CheckOptions != nil {
			if err := ti.CheckOptions(spec); err != nil {
				errs = append(errs, &config.FieldError{Key: key + ".driver", Err: err})
			}
		}
	}
	return errors.Join(errs...)
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
