package sysattr

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestNumber(t *testing.T) {
	dir := t.TempDir()
	// Formats from Documentation/ABI/testing/sysfs-bus-iio: an integer
	// with a newline, and a scale with a fractional part.
	for content, want := range map[string]float64{"23125\n": 23125, "0.000610351\n": 0.000610351, "-273150\n": -273150} {
		p := filepath.Join(dir, "attr")
		write(t, p, content)
		if got, err := Number(p); err != nil || got != want {
			t.Errorf("Number(%q) = %v, %v; want %v", content, got, err, want)
		}
	}
	write(t, filepath.Join(dir, "bad"), "on\n")
	if _, err := Number(filepath.Join(dir, "bad")); err == nil || !strings.Contains(err.Error(), `"on"`) {
		t.Errorf("a non-number: %v", err)
	}
}

func TestFind(t *testing.T) {
	bus := t.TempDir()
	write(t, filepath.Join(bus, "iio:device0", "name"), "dht11@4\n")
	write(t, filepath.Join(bus, "iio:device10", "name"), "bme680\n")
	write(t, filepath.Join(bus, "iio:device2", "name"), "bme680\n")
	write(t, filepath.Join(bus, "trigger0", "name"), "dht11\n")

	if p, err := Find(bus, "iio:device", "dht11", "IIO"); err != nil || p != filepath.Join(bus, "iio:device0") {
		t.Errorf("Find dht11 = %q, %v; want the dht11@4 device", p, err)
	}
	if _, err := Find(bus, "iio:device", "bme680", "IIO"); err == nil || !strings.Contains(err.Error(), "iio:device2, ") || !strings.Contains(err.Error(), "set path") {
		t.Errorf("two bme680: %v, want both paths listed in numeric order and a hint", err)
	}
	if _, err := Find(bus, "iio:device", "sht3x", "IIO"); err == nil || !strings.Contains(err.Error(), "only dht11@4, bme680, bme680") {
		t.Errorf("no sht3x: %v, want the names present", err)
	}
	if _, err := Find(filepath.Join(bus, "missing"), "iio:device", "sht3x", "IIO"); err == nil || !strings.Contains(err.Error(), "dtoverlay") {
		t.Errorf("no bus folder: %v, want the overlay hint", err)
	}
}

func TestMatches(t *testing.T) {
	for _, tc := range []struct {
		dev   Device
		match string
		want  bool
	}{
		{Device{Name: "dht11"}, "dht11", true},
		{Device{Name: "dht11@0"}, "dht11", true},
		{Device{Name: "dht11@0"}, "dht11@0", true},
		{Device{Name: "dht11x"}, "dht11", false},
		{Device{Name: "sht3x"}, "sht4x", false},
		{Device{Name: "1-0040", Driver: "si7020"}, "si7020", true},
	} {
		if got := tc.dev.Matches(tc.match); got != tc.want {
			t.Errorf("%+v.Matches(%q) = %v", tc.dev, tc.match, got)
		}
	}
}

func TestDriverLinks(t *testing.T) {
	// As sysfs lays them out: /sys/bus/iio/devices/iio:device0 links to the
	// device under its I²C client, whose driver link names the driver
	// (the si7020 driver names the IIO device "1-0040", its bus address);
	// /sys/class/hwmon/hwmon0 has a device link to its client.
	root := t.TempDir()
	client := filepath.Join(root, "devices", "i2c-1", "1-0040")
	write(t, filepath.Join(client, "iio:device0", "name"), "1-0040\n")
	write(t, filepath.Join(client, "hwmon", "hwmon0", "name"), "lm75\n")
	write(t, filepath.Join(root, "drivers", "si7020", "bind"), "")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink(filepath.Join(root, "drivers", "si7020"), filepath.Join(client, "driver")))
	iio := filepath.Join(root, "bus", "iio", "devices")
	must(os.MkdirAll(iio, 0o755))
	must(os.Symlink(filepath.Join(client, "iio:device0"), filepath.Join(iio, "iio:device0")))
	p, err := Find(iio, "iio:device", "si7020", "IIO")
	if err != nil || p != filepath.Join(iio, "iio:device0") {
		t.Errorf("Find si7020 = %q, %v", p, err)
	}
	if _, err := Find(iio, "iio:device", "htu21", "IIO"); err == nil || !strings.Contains(err.Error(), "1-0040 (driver si7020)") {
		t.Errorf("no htu21: %v, want the device shown with its driver", err)
	}
	hw := filepath.Join(client, "hwmon", "hwmon0")
	must(os.Symlink(client, filepath.Join(hw, "device")))
	devs, err := List(filepath.Join(client, "hwmon"), "hwmon")
	if err != nil || len(devs) != 1 || devs[0].Driver != "si7020" {
		t.Errorf("List hwmon = %+v, %v; want the client's driver through the device link", devs, err)
	}
}
