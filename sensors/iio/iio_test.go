package iio

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fakeDevice writes a device folder as the kernel lays it out: a name file
// and one file per attribute, each holding a number and a newline
// (Documentation/ABI/testing/sysfs-bus-iio).
func fakeDevice(t *testing.T, bus, dev string, attrs map[string]string) string {
	t.Helper()
	dir := filepath.Join(bus, dev)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range attrs {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func sense(t *testing.T, dir string, opts *Opts) map[string]float64 {
	t.Helper()
	d, err := New(dir, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	v, err := d.Sense(context.Background())
	if err != nil {
		t.Fatalf("Sense: %v", err)
	}
	return v
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestProcessedChannelsUseTheABIUnits(t *testing.T) {
	// What the kernel's bmp280 driver shows for a BME280: processed
	// (_input) values in the ABI's units: temperature in milli °C,
	// humidity in milli percent, pressure in kPa (sysfs-bus-iio, entries
	// in_tempX_input, in_humidityrelative_input, in_pressure_input).
	dir := fakeDevice(t, t.TempDir(), "iio:device0", map[string]string{
		"name":                       "bme280",
		"in_temp_input":              "23450",
		"in_humidityrelative_input":  "45123",
		"in_pressure_input":          "100.132421875",
		"in_temp_oversampling_ratio": "2",
		"sampling_frequency":         "1",
	})
	v := sense(t, dir, nil)
	want := map[string]float64{"temperature_c": 23.45, "humidity_pct": 45.123, "pressure_hpa": 1001.32421875}
	if len(v) != len(want) {
		t.Fatalf("Sense() = %v, want %v", v, want)
	}
	for f, w := range want {
		if !near(v[f], w, 1e-9) {
			t.Errorf("%s = %v, want %v", f, v[f], w)
		}
	}
}

func TestRawChannelsAddOffsetBeforeScaling(t *testing.T) {
	// A Si7020 as the kernel's si7020 driver shows it: raw is the 14-bit
	// code (the 16-bit code >> 2); scale 175720/16384 m°C and offset -4368
	// for temperature, 125000/16384 m% and offset -786 for humidity. Per
	// the ABI, value = (raw + offset) × scale. The expected values come
	// from the Si7020 datasheet's formulas (section 5.1.1) for the 16-bit
	// code 24000: T = 175.72 × 24000 / 65536 - 46.85 = 17.5004 °C,
	// RH = 125 × 24000 / 65536 - 6 = 39.776 %. The kernel's integer offset
	// costs at most 0.005.
	dir := fakeDevice(t, t.TempDir(), "iio:device1", map[string]string{
		"name":                       "si7020",
		"in_temp_raw":                "6000",
		"in_temp_offset":             "-4368",
		"in_temp_scale":              "10.725097656",
		"in_humidityrelative_raw":    "6000",
		"in_humidityrelative_offset": "-786",
		"in_humidityrelative_scale":  "7.629394531",
	})
	v := sense(t, dir, nil)
	if !near(v["temperature_c"], 17.5004, 0.005) || !near(v["humidity_pct"], 39.776, 0.005) {
		t.Errorf("Sense() = %v, want temperature_c 17.5004 and humidity_pct 39.776 (±0.005)", v)
	}
	// Scaling before adding the offset would give 6000 × 10.725 - 4368 m°C
	// = 59.98 °C: make sure the order is the ABI's.
	if v["temperature_c"] > 30 {
		t.Errorf("temperature_c = %v: the offset was added after scaling", v["temperature_c"])
	}
}

func TestSharedScaleAndIndexedChannels(t *testing.T) {
	// An MCP3008 under the kernel's mcp320x driver: in_voltageN_raw per
	// input and one in_voltage_scale shared by all (Vref 3300 mV / 1024).
	// Datasheet (MCP3004/3008, equation 4-1): Vin = code × Vref / 1024,
	// so code 512 is 1.65 V and code 1023 is 3.29678 V.
	dir := fakeDevice(t, t.TempDir(), "iio:device0", map[string]string{
		"name":             "mcp3008",
		"in_voltage0_raw":  "512",
		"in_voltage1_raw":  "1023",
		"in_voltage_scale": "3.222656250",
		// A differential channel has no field name: skipped.
		"in_voltage0-voltage1_raw": "0",
	})
	d, err := New(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Fields(); !slices.Equal(got, []string{"voltage0_v", "voltage1_v"}) {
		t.Errorf("Fields() = %v", got)
	}
	v, err := d.Sense(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !near(v["voltage0_v"], 1.65, 1e-9) || !near(v["voltage1_v"], 3.29677734375, 1e-9) {
		t.Errorf("Sense() = %v, want voltage0_v 1.65 and voltage1_v 3.29678", v)
	}
}

func TestConcentrationAndRenames(t *testing.T) {
	// Concentrations are in percent (sysfs-bus-iio, in_concentration_*):
	// 0.0415 % CO₂ is 415 ppm, 0.00002 % VOC is 200 ppb. A BME680's gas
	// channel is in_resistance_input in ohms.
	dir := fakeDevice(t, t.TempDir(), "iio:device0", map[string]string{
		"name":                           "mixed",
		"in_concentration_co2_input":     "0.0415",
		"in_concentration_voc_input":     "0.00002",
		"in_concentration_ethanol_raw":   "3",
		"in_concentration_ethanol_scale": "0.001",
		"in_resistance_input":            "12345",
		"in_uvindex_input":               "3",
		"in_intensity_uv_raw":            "77",
	})
	v := sense(t, dir, &Opts{Rename: map[string]string{"resistance_ohm": "gas_ohm"}})
	want := map[string]float64{"co2_ppm": 415, "tvoc_ppb": 200, "ethanol_ppm": 30, "gas_ohm": 12345, "uv_index": 3}
	if len(v) != len(want) {
		t.Fatalf("Sense() = %v, want %v (intensity has no unit and is left out)", v, want)
	}
	for f, w := range want {
		if !near(v[f], w, 1e-6) {
			t.Errorf("%s = %v, want %v", f, v[f], w)
		}
	}
}

func TestModifiedTemperatures(t *testing.T) {
	// An MLX90614-style thermometer: in_temp_ambient_* and in_temp_object_*.
	dir := fakeDevice(t, t.TempDir(), "iio:device0", map[string]string{
		"name":                "mlx90614",
		"in_temp_ambient_raw": "14855",
		"in_temp_object_raw":  "15355",
		"in_temp_offset":      "-13657.5",
		"in_temp_scale":       "20",
	})
	v := sense(t, dir, nil)
	// (14855 - 13657.5) × 20 m°C = 23.95 °C; (15355 - 13657.5) × 20 = 33.95 °C.
	if !near(v["temperature_ambient_c"], 23.95, 1e-9) || !near(v["temperature_object_c"], 33.95, 1e-9) {
		t.Errorf("Sense() = %v", v)
	}
}

func TestDHT11ThroughFind(t *testing.T) {
	// The dht11 overlay names the device after its device-tree node,
	// "dht11@4"; the driver reports processed values ×1000 (drivers/iio/
	// humidity/dht11.c, following the ABI's milli units).
	bus := t.TempDir()
	fakeDevice(t, bus, "iio:device0", map[string]string{"name": "mcp3008", "in_voltage0_raw": "1"})
	fakeDevice(t, bus, "iio:device1", map[string]string{"name": "dht11@4", "in_temp_input": "22000", "in_humidityrelative_input": "45000"})
	dir, err := Find(bus, "dht11")
	if err != nil {
		t.Fatal(err)
	}
	v := sense(t, dir, nil)
	if v["temperature_c"] != 22 || v["humidity_pct"] != 45 {
		t.Errorf("Sense() = %v, want 22 °C and 45 %%", v)
	}
}

func TestReadFailures(t *testing.T) {
	// A DHT that does not answer makes the kernel's read fail. A folder in
	// place of the file fails the same way (EISDIR) without hardware.
	dir := fakeDevice(t, t.TempDir(), "iio:device0", map[string]string{"name": "dht11", "in_humidityrelative_input": "45000"})
	if err := os.Mkdir(filepath.Join(dir, "in_temp_input"), 0o755); err != nil {
		t.Fatal(err)
	}
	d, err := New(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Sense(context.Background())
	if err == nil || !strings.Contains(err.Error(), "temperature_c") || !strings.Contains(err.Error(), "check wiring") {
		t.Errorf("Sense error = %v, want the field and a hint", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.Sense(ctx); err != context.Canceled {
		t.Errorf("cancelled Sense = %v", err)
	}
}

func TestNewRejects(t *testing.T) {
	if _, err := New(t.TempDir(), nil); err == nil || !strings.Contains(err.Error(), "not an IIO device folder") {
		t.Errorf("empty folder: %v", err)
	}
	dir := fakeDevice(t, t.TempDir(), "iio:device0", map[string]string{"name": "adxl345", "in_accel_x_raw": "12"})
	if _, err := New(dir, nil); err == nil || !strings.Contains(err.Error(), "no channel") {
		t.Errorf("accelerometer only: %v", err)
	}
	dir = fakeDevice(t, t.TempDir(), "iio:device0", map[string]string{"name": "x", "in_temp_input": "1", "in_temp_scale": "x", "in_temp0_raw": "1"})
	if _, err := New(dir, nil); err == nil {
		t.Error("an unreadable scale was accepted")
	}
	dir = fakeDevice(t, t.TempDir(), "iio:device0", map[string]string{"name": "x", "in_temp_input": "1", "in_pressure_input": "1"})
	if _, err := New(dir, &Opts{Rename: map[string]string{"pressure_hpa": "temperature_c"}}); err == nil || !strings.Contains(err.Error(), "both publish") {
		t.Errorf("a rename onto another field: %v", err)
	}
}
