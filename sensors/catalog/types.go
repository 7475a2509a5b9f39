package catalog

import (
	"slices"
	"strings"
)

// TypeInfo describes one sensor type for help texts and for Scan.
type TypeInfo struct {
	// Name is the value of a sensor's type in the configuration.
	Name string
	// Summary says what the device is.
	Summary string
	// Bus says how it is connected: "i2c", "i2c or spi", "1-wire", "file"
	// or "none".
	Bus string
	// Addresses are the I²C addresses it can have, the default first; a
	// configuration that gives no address gets the default. For ds18b20
	// they are the DS2482 bridge's: periph's ds248x takes only 0x18 and 0x19
	// of the four a DS2482-100 can have.
	Addresses []uint16
	// Fields are the names of the values it reports.
	Fields []string
}

// Types lists every type Open knows, sorted by name.
func Types() []TypeInfo {
	const (
		t  = "temperature_c"
		rh = "humidity_pct"
		p  = "pressure_hpa"
	)
	types := []TypeInfo{
		{"bme280", "Bosch BME280 temperature, humidity and pressure", "i2c or spi", []uint16{0x76, 0x77}, []string{t, rh, p}},
		{"bmp280", "Bosch BMP280 temperature and pressure", "i2c or spi", []uint16{0x76, 0x77}, []string{t, p}},
		{"bmp180", "Bosch BMP180 temperature and pressure", "i2c", []uint16{0x77}, []string{t, p}},
		{"aht20", "Aosong AHT20 temperature and humidity", "i2c", []uint16{0x38}, []string{t, rh}},
		{"am2320", "Aosong AM2320 temperature and humidity", "i2c", []uint16{0x5c}, []string{t, rh}},
		{"sht4x", "Sensirion SHT40/41/45 temperature and humidity", "i2c", []uint16{0x44, 0x45, 0x46}, []string{t, rh}},
		{"hdc302x", "TI HDC3020/3021/3022 temperature and humidity", "i2c", []uint16{0x44, 0x45, 0x46, 0x47}, []string{t, rh}},
		{"mcp9808", "Microchip MCP9808 temperature", "i2c", addrRange(0x18, 0x1f), []string{t}},
		{"tmp102", "TI TMP102 temperature", "i2c", addrRange(0x48, 0x4b), []string{t}},
		{"ds18b20", "Maxim DS18B20 1-Wire temperature probe, via the kernel's w1-gpio bus (bridge: sysfs) or a DS2482 I²C bridge (bridge: ds2482)",
			"1-wire", []uint16{0x18, 0x19}, []string{t}},
		{"scd4x", "Sensirion SCD40/41 CO₂, temperature and humidity", "i2c", []uint16{0x62}, []string{"co2_ppm", t, rh}},
		{"sgp30", "Sensirion SGP30 TVOC and CO₂ equivalent (read it every 1s)", "i2c", []uint16{0x58}, []string{"tvoc_ppb", "eco2_ppm"}},
		{"bh1750", "ROHM BH1750 ambient light", "i2c", []uint16{0x23, 0x5c}, []string{"illuminance_lux"}},
		{"ina219", "TI INA219 bus voltage, current and power (driver: shunt_ohms, max_current_a)", "i2c", addrRange(0x40, 0x4f),
			[]string{"voltage_v", "current_a", "power_w"}},
		{"ads1115", "TI ADS1115 16-bit ADC, inputs mapped to quantities (driver: channels)", "i2c", addrRange(0x48, 0x4b), []string{"ain0_v"}},
		{"ads1015", "TI ADS1015 12-bit ADC, inputs mapped to quantities (driver: channels)", "i2c", addrRange(0x48, 0x4b), []string{"ain0_v"}},
		{"soc", "the Raspberry Pi's CPU temperature from the kernel (path: the thermal zone's temp file)", "file", nil, []string{"soc_temperature_c"}},
		{"sim-bme280", "a simulated BME280 on a desk indoors", "none", nil, []string{t, rh, p}},
		{"sim-soc", "a simulated Raspberry Pi CPU temperature", "none", nil, []string{"soc_temperature_c"}},
	}
	slices.SortFunc(types, func(a, b TypeInfo) int { return strings.Compare(a.Name, b.Name) })
	return types
}

// typeNames lists the names of Types for an error message.
func typeNames() string {
	var names []string
	for _, ti := range Types() {
		names = append(names, ti.Name)
	}
	return strings.Join(names, ", ")
}

// lookupType returns the TypeInfo named name.
func lookupType(name string) (TypeInfo, bool) {
	for _, ti := range Types() {
		if ti.Name == name {
			return ti, true
		}
	}
	return TypeInfo{}, false
}

// addrRange lists the addresses from lo to hi.
func addrRange(lo, hi uint16) []uint16 {
	var a []uint16
	for x := lo; x <= hi; x++ {
		a = append(a, x)
	}
	return a
}
