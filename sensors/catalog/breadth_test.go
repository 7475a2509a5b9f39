package catalog

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/edgepub/edgepub/config"
	"github.com/edgepub/edgepub/sensors"
	"github.com/edgepub/edgepub/sensors/internal/uart/uarttest"
	"periph.io/x/conn/v3/conntest"
	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/spi"
	"periph.io/x/conn/v3/spi/spitest"
)

// kernelTree builds fake /sys/bus/iio/devices and /sys/class/hwmon
// folders. Every attribute holds a number and a newline in the unit the
// kernel documentation gives (Documentation/ABI/testing/sysfs-bus-iio,
// Documentation/hwmon/sysfs-interface.rst).
type kernelTree struct {
	t          *testing.T
	root       string
	iio, hwmon string
}

func newKernelTree(t *testing.T) *kernelTree {
	root := t.TempDir()
	k := &kernelTree{t: t, root: root, iio: filepath.Join(root, "bus", "iio", "devices"), hwmon: filepath.Join(root, "class", "hwmon")}
	for _, d := range []string{k.iio, k.hwmon} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return k
}

// device writes a device folder under its I²C client, bound to driver, and
// links it from bus, as sysfs does.
func (k *kernelTree) device(bus, dev, driver string, attrs map[string]string) string {
	k.t.Helper()
	client := filepath.Join(k.root, "devices", dev+"-client")
	dir := filepath.Join(client, dev)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		k.t.Fatal(err)
	}
	for name, v := range attrs {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v+"\n"), 0o644); err != nil {
			k.t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(k.root, "drivers", driver), 0o755); err != nil {
		k.t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(k.root, "drivers", driver), filepath.Join(client, "driver")); err != nil {
		k.t.Fatal(err)
	}
	link := filepath.Join(bus, dev)
	if err := os.Symlink(dir, link); err != nil {
		k.t.Fatal(err)
	}
	return link
}

func TestOpenKernelTypes(t *testing.T) {
	k := newKernelTree(t)
	// DHT22 under the dht11 driver, named after its device-tree node:
	// processed values ×1000 (drivers/iio/humidity/dht11.c).
	k.device(k.iio, "iio:device0", "dht11", map[string]string{"name": "dht11@4", "in_temp_input": "21300", "in_humidityrelative_input": "55100"})
	// Si7020: named after its bus address; (raw + offset) × scale.
	k.device(k.iio, "iio:device1", "si7020", map[string]string{"name": "1-0040",
		"in_temp_raw": "6000", "in_temp_offset": "-4368", "in_temp_scale": "10.725097656"})
	k.device(k.iio, "iio:device2", "bme680", map[string]string{"name": "bme680",
		"in_temp_input": "24120", "in_pressure_input": "101.325", "in_humidityrelative_input": "40250", "in_resistance_input": "51234"})
	k.device(k.iio, "iio:device3", "mcp320x", map[string]string{"name": "mcp3008",
		"in_voltage0_raw": "512", "in_voltage1_raw": "0", "in_voltage_scale": "3.222656250"})
	k.device(k.iio, "iio:device4", "veml6070", map[string]string{"name": "veml6070", "in_uvindex_input": "4", "in_intensity_uv_raw": "400"})
	k.device(k.iio, "iio:device5", "tsl4531", map[string]string{"name": "tsl4531", "in_illuminance_raw": "120", "in_illuminance_scale": "2"})
	k.device(k.iio, "iio:device6", "htu21", map[string]string{"name": "htu21", "in_temp_input": "19870", "in_humidityrelative_input": "61000"})
	k.device(k.iio, "iio:device7", "hdc100x", map[string]string{"name": "1-0041", "in_temp_raw": "26214", "in_temp_offset": "-15887.515151", "in_temp_scale": "2.517700195"})
	k.device(k.iio, "iio:device8", "bmp280", map[string]string{"name": "bme280",
		"in_temp_input": "22710", "in_pressure_input": "99.8125", "in_humidityrelative_input": "51234"})
	k.device(k.hwmon, "hwmon0", "sht3x", map[string]string{"name": "sht3x", "temp1_input": "22500", "humidity1_input": "48000"})
	k.device(k.hwmon, "hwmon1", "lm75", map[string]string{"name": "lm75", "temp1_input": "-12500"})
	k.device(k.hwmon, "hwmon2", "ina2xx", map[string]string{"name": "ina219", "in1_input": "5012", "curr1_input": "250", "power1_input": "1253000"})

	for _, c := range []struct {
		spec config.Sensor
		want map[string]float64
	}{
		{config.Sensor{Type: "dht22", Bus: k.iio}, map[string]float64{"temperature_c": 21.3, "humidity_pct": 55.1}},
		{config.Sensor{Type: "dht11", Bus: k.iio}, map[string]float64{"temperature_c": 21.3, "humidity_pct": 55.1}},
		// (6000 - 4368) × 10.725 m°C; the Si7020 datasheet's formula for
		// the code 24000 gives 17.5004 °C.
		{config.Sensor{Type: "si7020", Bus: k.iio}, map[string]float64{"temperature_c": 17.5034}},
		// kPa × 10 = hPa; the gas channel under the own driver's name.
		{config.Sensor{Type: "bme680", Bus: k.iio}, map[string]float64{"temperature_c": 24.12, "pressure_hpa": 1013.25, "humidity_pct": 40.25, "gas_ohm": 51234}},
		// Code 512 of 1024 at VREF 3.3 V is 1.65 V (MCP3008 equation 4-1).
		{config.Sensor{Type: "mcp3008", Bus: k.iio}, map[string]float64{"ain0_v": 1.65, "ain1_v": 0}},
		{config.Sensor{Type: "veml6070", Bus: k.iio}, map[string]float64{"uv_index": 4}},
		{config.Sensor{Type: "tsl4531", Bus: k.iio}, map[string]float64{"illuminance_lux": 240}},
		{config.Sensor{Type: "htu21", Bus: k.iio}, map[string]float64{"temperature_c": 19.87, "humidity_pct": 61}},
		// HDC1000 datasheet: T = code / 2¹⁶ × 165 - 40, so the code 26214
		// is 25.999 °C. The kernel's scale is 165000/65536 m°C and its
		// offset -15887.515151 (-40000 / scale).
		{config.Sensor{Type: "hdc100x", Bus: k.iio}, map[string]float64{"temperature_c": 25.999}},
		{config.Sensor{Type: "bme280", Bus: k.iio}, map[string]float64{"temperature_c": 22.71, "pressure_hpa": 998.125, "humidity_pct": 51.234}},
		{config.Sensor{Type: "sht3x", Bus: k.hwmon}, map[string]float64{"temperature_c": 22.5, "humidity_pct": 48}},
		{config.Sensor{Type: "lm75", Bus: k.hwmon}, map[string]float64{"temperature_c": -12.5}},
		// hwmon: mV, mA, µW.
		{config.Sensor{Type: "hwmon", Bus: k.hwmon, Match: "ina219"}, map[string]float64{"voltage_v": 5.012, "current_a": 0.25, "power_w": 1.253}},
		{config.Sensor{Type: "iio", Path: filepath.Join(k.iio, "iio:device2")}, map[string]float64{"temperature_c": 24.12, "pressure_hpa": 1013.25, "humidity_pct": 40.25, "resistance_ohm": 51234}},
		{config.Sensor{Type: "iio", Bus: k.iio, Match: "si7020"}, map[string]float64{"temperature_c": 17.5034}},
	} {
		t.Run(c.spec.Type, func(t *testing.T) {
			c.spec.Name = "x"
			s := mustOpen(t, c.spec, &fakeBuses{})
			v, err := s.Sense(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(v) != len(c.want) {
				t.Errorf("Sense() = %v, want %v", v, c.want)
			}
			for f, w := range c.want {
				if got, ok := v[f]; !ok || math.Abs(got-w) > 0.0005 {
					t.Errorf("%s = %v, want %v", f, got, w)
				}
			}
			// The Runner spaces reads and retries of a DHT by 2 s.
			if strings.HasPrefix(c.spec.Type, "dht") {
				if sp, ok := s.(sensors.Spaced); !ok || sp.Spacing() != 2*time.Second {
					t.Errorf("%s is not spaced by 2 s", c.spec.Type)
				}
			}
		})
	}
}

func TestOpenKernelTypeErrors(t *testing.T) {
	k := newKernelTree(t)
	for _, c := range []struct {
		spec config.Sensor
		text string
	}{
		{config.Sensor{Type: "dht22", Bus: "/dev/i2c-1"}, "dtoverlay"},
		{config.Sensor{Type: "dht22", Bus: k.iio}, "has no devices"},
		{config.Sensor{Type: "iio", Bus: k.iio}, "give path"},
		{config.Sensor{Type: "hwmon"}, "give path"},
		{config.Sensor{Type: "lm75", Path: k.root}, "not an hwmon device folder"},
		// A chip with an own driver and no bus: the kernel's device is
		// looked for, and the error names both ways.
		{config.Sensor{Type: "bme280"}, "bus: /dev/i2c-1"},
		{config.Sensor{Type: "sht3x", Bus: k.hwmon}, "no hwmon device named \"sht3x\""},
	} {
		c.spec.Name = "x"
		if _, err := Open(context.Background(), c.spec, &fakeBuses{}); err == nil || !strings.Contains(err.Error(), c.text) {
			t.Errorf("Open(%+v) = %v, want %q", c.spec, err, c.text)
		}
	}
}

func TestOpenOwnBreadthDrivers(t *testing.T) {
	// SHT3x: status read (the datasheet's CRC example word 0xBEEF, CRC
	// 0x92), then a high-repeatability single shot without clock
	// stretching, 0x2400: raw 0x6666 is 25 °C, 0x9999 is 60 %.
	bus := playback(
		i2ctest.IO{Addr: 0x44, W: []byte{0xF3, 0x2D}},
		i2ctest.IO{Addr: 0x44, R: []byte{0xBE, 0xEF, 0x92}},
		i2ctest.IO{Addr: 0x44, W: []byte{0x24, 0x00}},
		i2ctest.IO{Addr: 0x44, R: []byte{0x66, 0x66, 0x93, 0x99, 0x99, 0xBE}},
	)
	s := mustOpen(t, config.Sensor{Name: "x", Type: "sht3x", Bus: bus1}, i2cBuses(bus))
	if v, err := s.Sense(context.Background()); err != nil || math.Abs(v["temperature_c"]-25) > 1e-9 || math.Abs(v["humidity_pct"]-60) > 1e-9 {
		t.Errorf("sht3x Sense() = %v, %v", v, err)
	}
	allUsed(t, bus)

	// MCP3008 over SPI: CH0 single-ended (figure 6-1), code 256 at VREF
	// 5 V is 1.25 V, scaled by the configured channel.
	port := &spitest.Playback{Playback: conntest.Playback{DontPanic: true, Ops: []conntest.IO{
		{W: []byte{0x01, 0x80, 0x00}, R: []byte{0x00, 0x01, 0x00}},
	}}}
	buses := &fakeBuses{spi: map[string]spi.PortCloser{"/dev/spidev0.0": port}}
	spec := config.Sensor{Name: "x", Type: "mcp3008", Bus: "/dev/spidev0.0",
		Driver: config.DriverOpts{VRef: 5, Channels: []config.ADCChannel{{Input: 0, Field: "level_pct", Scale: 20}}}}
	s = mustOpen(t, spec, buses)
	if v, err := s.Sense(context.Background()); err != nil || v["level_pct"] != 25 {
		t.Errorf("mcp3008 Sense() = %v, %v; want level_pct 25", v, err)
	}
	// A refused configuration closes the port again.
	spec.Driver.VRef = 9
	refused := &closeCounter{Playback: &spitest.Playback{Playback: conntest.Playback{DontPanic: true}}}
	if _, err := Open(context.Background(), spec, &fakeBuses{spi: map[string]spi.PortCloser{"/dev/spidev0.0": refused}}); err == nil || !strings.Contains(err.Error(), "vref") || refused.closed != 1 {
		t.Errorf("mcp3008 with vref 9: %v, port closed %d times; want an error and the port closed once", err, refused.closed)
	}
}

func TestOpenSerialTypes(t *testing.T) {
	// MH-Z19: ABC off (FF 01 79 00 … 86), then the datasheet's read
	// example: FF 86 02 60 47 00 00 00 D1 is 608 ppm.
	dev := uarttest.New(t,
		uarttest.Step{Expect: []byte{0xFF, 0x01, 0x79, 0x00, 0x00, 0x00, 0x00, 0x00, 0x86}},
		uarttest.Step{Expect: []byte{0xFF, 0x01, 0x86, 0x00, 0x00, 0x00, 0x00, 0x00, 0x79}, Reply: []byte{0xFF, 0x86, 0x02, 0x60, 0x47, 0x00, 0x00, 0x00, 0xD1}},
	)
	off := false
	s := mustOpen(t, config.Sensor{Name: "x", Type: "mhz19", Bus: dev.Path, Driver: config.DriverOpts{ABC: &off}}, &fakeBuses{})
	// Just opened, the sensor preheats: the answer came, but is skipped.
	if v, err := s.Sense(context.Background()); !errors.Is(err, sensors.ErrWarmingUp) {
		t.Errorf("mhz19 Sense() = %v, %v; want the answer read and skipped in the preheat", v, err)
	}
	if c, ok := s.(interface{ Close() error }); ok {
		c.Close()
	}

	for _, c := range []struct {
		spec config.Sensor
		text string
	}{
		{config.Sensor{Type: "mhz19", Bus: "/dev/ttyUSB9"}, "driver.abc is not set"},
		{config.Sensor{Type: "mhz19", Driver: config.DriverOpts{ABC: &off}}, "serial port"},
		{config.Sensor{Type: "pms5003"}, "serial port"},
		{config.Sensor{Type: "pms5003", Bus: "/dev/does-not-exist"}, "dialout"},
	} {
		c.spec.Name = "x"
		if _, err := Open(context.Background(), c.spec, &fakeBuses{}); err == nil || !strings.Contains(err.Error(), c.text) {
			t.Errorf("Open(%+v) = %v, want %q", c.spec, err, c.text)
		}
	}
}

func TestListKernelAndSnippet(t *testing.T) {
	k := newKernelTree(t)
	k.device(k.iio, "iio:device0", "dht11", map[string]string{"name": "dht11@4", "in_temp_input": "21300", "in_humidityrelative_input": "55100"})
	k.device(k.iio, "iio:device1", "si7020", map[string]string{"name": "1-0040", "in_temp_input": "20000"})
	k.device(k.iio, "iio:device2", "ads1015", map[string]string{"name": "ads1015", "in_voltage0_raw": "100"})
	k.device(k.iio, "iio:device3", "ads1015", map[string]string{"name": "ads1015", "in_voltage0_raw": "100"})
	k.device(k.hwmon, "hwmon0", "lm75", map[string]string{"name": "lm75", "temp1_input": "25000"})
	// The Pi's under-voltage monitor has only an alarm, no *_input.
	k.device(k.hwmon, "hwmon1", "raspberrypi-hwmon", map[string]string{"name": "rpi_volt", "in0_lcrit_alarm": "0"})
	found, err := ListKernel(k.iio, k.hwmon)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range found {
		got = append(got, strings.Join(f.Types, ",")+" "+f.Match)
	}
	want := []string{"dht11 dht11", "si7020 si7020", "iio ", "iio ", "lm75 lm75", " rpi_volt"}
	if !slices.Equal(got, want) {
		t.Errorf("ListKernel types and matches = %q, want %q", got, want)
	}
	snippet := Snippet(found, bus1)
	cfg, err := config.Parse(strings.NewReader(snippet))
	if err != nil {
		t.Fatalf("%v\n%s", err, snippet)
	}
	if !strings.Contains(snippet, "rpi_volt") || !strings.Contains(snippet, "no *_input") {
		t.Errorf("the unreadable device has no comment:\n%s", snippet)
	}
	if len(cfg.Sensors) != 5 {
		t.Fatalf("snippet has %d sensors, want 5:\n%s", len(cfg.Sensors), snippet)
	}
	for _, spec := range cfg.Sensors {
		s, err := Open(context.Background(), spec, &fakeBuses{})
		if err != nil {
			t.Errorf("snippet entry %s: %v\n%s", spec.Name, err, snippet)
			continue
		}
		if _, err := s.Sense(context.Background()); err != nil {
			t.Errorf("snippet entry %s: Sense: %v", spec.Name, err)
		}
	}
	if none, err := ListKernel(filepath.Join(k.root, "nothing"), ""); err != nil || len(none) != 0 {
		t.Errorf("a missing folder: %v, %v", none, err)
	}
}

func TestTypeCount(t *testing.T) {
	// Issue 12's goal: at least 32 types.
	if n := len(Types()); n < 32 {
		t.Errorf("%d types, want at least 32", n)
	}
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	for _, ti := range Types() {
		if (ti.kernel.match != "" || ti.Bus == "uart") && ti.Overlay == "" {
			t.Errorf("%s has no config.txt line", ti.Name)
		}
		if ti.Overlay != "" && !strings.Contains(string(readme), "`"+ti.Overlay+"`") {
			t.Errorf("README does not show %s's line %s", ti.Name, ti.Overlay)
		}
	}
}

func TestScanFindsSHT3xAndBME680(t *testing.T) {
	// An SHT3x does not acknowledge a bare read and has no serial number
	// command, but answers a status read (0xF32D; 0x8010 is the power-on
	// status of table 17). A BME680's chip id is 0x61 (register 0xD0).
	bus := &deviceBus{devices: map[uint16]chip{
		0x45: sensirionChip(map[string][]uint16{"\xF3\x2D": {0x8010}}),
		0x77: registers(map[byte]uint16{0xd0: 0x61}),
	}}
	found, err := Scan(context.Background(), bus)
	if err != nil || len(found) != 2 {
		t.Fatalf("Scan = %+v, %v", found, err)
	}
	if found[0].Chip != "SHT3x" || !slices.Equal(found[0].Types, []string{"sht3x"}) {
		t.Errorf("0x45: %+v, want an SHT3x", found[0])
	}
	if !slices.Equal(found[1].Types, []string{"bme680"}) {
		t.Errorf("0x77: %+v, want a BME680", found[1])
	}
}

func TestCheckNewTypes(t *testing.T) {
	on := true
	for _, c := range []struct {
		spec config.Sensor
		text string // empty: accepted
	}{
		{config.Sensor{Type: "mhz19", Bus: "/dev/serial0"}, "driver.abc is not set"},
		{config.Sensor{Type: "mhz19", Bus: "/dev/serial0", Driver: config.DriverOpts{ABC: &on}}, ""},
		{config.Sensor{Type: "pms5003", Bus: "/dev/serial0", Driver: config.DriverOpts{ABC: &on}}, "does not use abc"},
		{config.Sensor{Type: "mcp3008", Driver: config.DriverOpts{VRef: 7}}, "0.25..5.5"},
		{config.Sensor{Type: "mcp3008", Driver: config.DriverOpts{Channels: []config.ADCChannel{{Input: 9}}}}, "0..7"},
		{config.Sensor{Type: "bme680", Driver: config.DriverOpts{HeaterC: 500}}, "200..400"},
		{config.Sensor{Type: "bme680", Driver: config.DriverOpts{HeaterC: 320, HeaterDuration: config.Duration(150 * time.Millisecond)}}, ""},
		// The kernel's dht11 driver keeps a value for 2 s.
		{config.Sensor{Type: "dht22", Samples: 3, Interval: config.Duration(3 * time.Second)}, "dht22"},
	} {
		c.spec.Name = "x"
		if c.spec.Samples == 0 {
			c.spec.Samples, c.spec.Interval = 1, config.Duration(10*time.Second)
		}
		err := Check([]config.Sensor{c.spec})
		switch {
		case c.text == "" && err != nil:
			t.Errorf("Check(%s) = %v, want it accepted", c.spec.Type, err)
		case c.text != "" && (err == nil || !strings.Contains(err.Error(), c.text)):
			t.Errorf("Check(%s) = %v, want %q", c.spec.Type, err, c.text)
		}
	}
}

// A DHT read the kernel's driver misses is retried, but no sooner than the
// 2 s the chip needs: the Spacing flows from the type through the iio
// device to the Runner.
func TestDHTRetryKeepsTwoSeconds(t *testing.T) {
	k := newKernelTree(t)
	dir := k.device(k.iio, "iio:device0", "dht11", map[string]string{"name": "dht11@4", "in_humidityrelative_input": "55100"})
	temp := filepath.Join(dir, "in_temp_input")
	// A folder in place of the value: the read fails, as a missed one does.
	if err := os.Mkdir(temp, 0o755); err != nil {
		t.Fatal(err)
	}
	s := mustOpen(t, config.Sensor{Name: "garden", Type: "dht22", Bus: k.iio}, &fakeBuses{})
	synctest.Test(t, func(t *testing.T) {
		r := sensors.NewRunner(sensors.RunnerOpts{})
		ctx, cancel := context.WithCancel(t.Context())
		var mu sync.Mutex
		var got []sensors.Reading
		start := time.Now()
		done := make(chan struct{})
		go func() {
			r.Run(ctx, []sensors.Source{{Name: "garden", Sensor: s, Interval: 10 * time.Second, Timeout: time.Second, Samples: 1}}, func(rd sensors.Reading) {
				mu.Lock()
				defer mu.Unlock()
				got = append(got, rd)
			})
			close(done)
		}()
		synctest.Wait() // the first read failed; the Runner waits to retry
		if err := os.Remove(temp); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(temp, []byte("21300\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		if len(got) == 0 {
			t.Fatal("no reading after the DHT answered again")
		}
		if after := got[0].Time.Sub(start); after != 2*time.Second {
			t.Errorf("the retry came %v after the failed read, want the DHT's 2 s (the Runner's own would be 1 s, a tenth of the interval)", after)
		}
		if got[0].Values["temperature_c"] != 21.3 {
			t.Errorf("reading %v", got[0].Values)
		}
	})
}
