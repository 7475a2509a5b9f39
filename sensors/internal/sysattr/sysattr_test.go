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
		name, match string
		want        bool
	}{
		{"dht11", "dht11", true},
		{"dht11@0", "dht11", true},
		{"dht11@0", "dht11@0", true},
		{"dht11x", "dht11", false},
		{"sht3x", "sht4x", false},
	} {
		if got := Matches(tc.name, tc.match); got != tc.want {
			t.Errorf("Matches(%q, %q) = %v", tc.name, tc.match, got)
		}
	}
}
