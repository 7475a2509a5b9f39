package hwmon

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fakeDevice lays out an hwmon device as Documentation/hwmon/sysfs-interface
// describes: a name file and one file per attribute holding an integer in
// the attribute's fixed unit.
func fakeDevice(t *testing.T, dir string, attrs map[string]string) string {
	t.Helper()
	for name, content := range attrs {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestUnitsOfTheSysfsInterface(t *testing.T) {
	// An INA219 under the kernel's ina2xx driver: in0 (shunt) and in1
	// (bus) in mV, curr1 in mA, power1 in µW. Also a temperature in m°C.
	dir := fakeDevice(t, filepath.Join(t.TempDir(), "hwmon2"), map[string]string{
		"name":            "ina219",
		"in0_input":       "12",
		"in1_input":       "5012",
		"curr1_input":     "120",
		"power1_input":    "601440",
		"in1_label":       "bus",
		"update_interval": "1",
	})
	d, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Fields(); !slices.Equal(got, []string{"current_a", "power_w", "voltage0_v", "voltage1_v"}) {
		t.Errorf("Fields() = %v", got)
	}
	v, err := d.Sense(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"voltage0_v": 0.012, "voltage1_v": 5.012, "current_a": 0.12, "power_w": 0.60144}
	for f, w := range want {
		if math.Abs(v[f]-w) > 1e-12 {
			t.Errorf("%s = %v, want %v", f, v[f], w)
		}
	}
}

func TestSHT3xAndLM75(t *testing.T) {
	// The kernel's sht3x driver: temp1_input in m°C, humidity1_input in
	// m% (sysfs-interface: humidity[1-*]_input, "Unit: milli-percent").
	// The lm75 driver: temp1_input only.
	bus := t.TempDir()
	fakeDevice(t, filepath.Join(bus, "hwmon0"), map[string]string{"name": "cpu_thermal", "temp1_input": "48312"})
	fakeDevice(t, filepath.Join(bus, "hwmon1"), map[string]string{"name": "sht3x", "temp1_input": "21375", "humidity1_input": "48250"})
	fakeDevice(t, filepath.Join(bus, "hwmon3"), map[string]string{"name": "lm75", "temp1_input": "-5500"})
	for _, tc := range []struct {
		match string
		want  map[string]float64
	}{
		{"sht3x", map[string]float64{"temperature_c": 21.375, "humidity_pct": 48.25}},
		{"lm75", map[string]float64{"temperature_c": -5.5}},
	} {
		dir, err := Find(bus, tc.match)
		if err != nil {
			t.Fatal(err)
		}
		d, err := New(dir)
		if err != nil {
			t.Fatal(err)
		}
		v, err := d.Sense(context.Background())
		if err != nil || len(v) != len(tc.want) {
			t.Fatalf("%s: Sense() = %v, %v; want %v", tc.match, v, err, tc.want)
		}
		for f, w := range tc.want {
			if math.Abs(v[f]-w) > 1e-12 {
				t.Errorf("%s: %s = %v, want %v", tc.match, f, v[f], w)
			}
		}
	}
}

func TestAttributesInDeviceFolder(t *testing.T) {
	// Older drivers put the attributes in hwmonN/device/ (sysfs-interface:
	// "in the hwmon device directory or in the device directory").
	dir := fakeDevice(t, filepath.Join(t.TempDir(), "hwmon0"), map[string]string{
		"name":               "lm75",
		"device/temp1_input": "25000",
		"device/name":        "lm75",
	})
	d, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := d.Sense(context.Background()); err != nil || v["temperature_c"] != 25 {
		t.Errorf("Sense() = %v, %v; want 25 °C", v, err)
	}
}

func TestFailures(t *testing.T) {
	if _, err := New(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not an hwmon device folder") {
		t.Errorf("empty folder: %v", err)
	}
	dir := fakeDevice(t, filepath.Join(t.TempDir(), "hwmon0"), map[string]string{"name": "pwmfan", "pwm1": "128"})
	if _, err := New(dir); err == nil || !strings.Contains(err.Error(), "no *_input") {
		t.Errorf("no inputs: %v", err)
	}
	// A sensor that does not answer makes the read fail; a folder in place
	// of the attribute fails the same way (EISDIR).
	dir = fakeDevice(t, filepath.Join(t.TempDir(), "hwmon0"), map[string]string{"name": "sht3x", "humidity1_input": "1"})
	if err := os.Mkdir(filepath.Join(dir, "temp1_input"), 0o755); err != nil {
		t.Fatal(err)
	}
	d, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Sense(context.Background()); err == nil || !strings.Contains(err.Error(), "temperature_c") {
		t.Errorf("read failure: %v", err)
	}
}
