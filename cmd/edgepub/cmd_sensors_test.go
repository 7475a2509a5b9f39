package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/edgepub/edgepub/sensors/catalog"
)

func TestSensorsTypesListsTheCatalog(t *testing.T) {
	out, _, err := runCmd(t, "sensors", "types")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	types := catalog.Types()
	if len(lines) != len(types) {
		t.Fatalf("%d lines for %d types:\n%s", len(lines), len(types), out)
	}
	for i, ti := range types {
		name, rest, _ := strings.Cut(lines[i], " ")
		if name != ti.Name || !strings.Contains(rest, ti.Chip) || !strings.Contains(rest, ti.Bus) || !strings.HasSuffix(rest, strings.Join(ti.Fields, ",")) {
			t.Errorf("line %q, want %s, %s, %s, %v", lines[i], ti.Name, ti.Chip, ti.Bus, ti.Fields)
		}
	}
	if _, _, err := runCmd(t, "sensors", "types", "extra"); !errors.Is(err, exitCode(2)) {
		t.Errorf("an extra argument: %v, want exit 2", err)
	}
}

func TestSensorsReadJSONIsWhatRunPublishes(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(cfg, []byte("certs: {dir: "+t.TempDir()+"}\nsensors:\n  - {name: room, type: sim-bme280, seed: 3}\n  - {name: cpu, type: sim-soc, seed: 4}\n"), 0o600)
	out, stderr, err := runCmd(t, "sensors", "read", "--all", "--json", "--config", cfg)
	if err != nil {
		t.Fatalf("sensors read --all --json: %v\n%s", err, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("want one line per sensor, got:\n%s", out)
	}
	for i, want := range []string{"room", "cpu"} {
		var msg map[string]any
		if err := json.Unmarshal([]byte(lines[i]), &msg); err != nil {
			t.Fatalf("line %q: %v", lines[i], err)
		}
		if msg["sensor"] != want || msg["device"] == "" || msg["time"] == nil {
			t.Errorf("line %d = %v, want sensor %s with device and time", i, msg, want)
		}
		if _, ok := msg["seq"]; ok {
			t.Errorf("line %d has a seq: %s", i, lines[i])
		}
		// The envelope comes first, as run publishes it.
		if !strings.HasPrefix(lines[i], `{"device":`) || !strings.Contains(lines[i], `,"sensor":"`+want+`","time":"`) {
			t.Errorf("line %d is not in run's field order: %s", i, lines[i])
		}
	}
	if !strings.Contains(stderr, "host name") {
		t.Errorf("without certificates the device name's source is not explained: %q", stderr)
	}

	out, _, err = runCmd(t, "sensors", "read", "cpu", "room", "--config", cfg)
	if err != nil || strings.Index(out, "cpu (sim-soc)") > strings.Index(out, "room (sim-bme280)") || !strings.Contains(out, "soc_temperature_c") {
		t.Errorf("two names, in the order given: %v\n%s", err, out)
	}
	for _, args := range [][]string{{"sensors", "read"}, {"sensors", "read", "room", "--all"}} {
		if _, _, err := runCmd(t, append(args, "--config", cfg)...); !errors.Is(err, exitCode(2)) {
			t.Errorf("%v: %v, want exit 2", args, err)
		}
	}
}

func TestSensorsReadRefusesWhatTheChipCannotServe(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(cfg, []byte("sensors:\n  - {name: co2, type: scd4x, bus: /dev/i2c-1, interval: 10s, samples: 3}\n"), 0o600)
	_, _, err := runCmd(t, "sensors", "read", "co2", "--config", cfg)
	if err == nil || !strings.Contains(err.Error(), "sensors[0].samples") || !strings.Contains(err.Error(), "3 × 5s = 15s") {
		t.Errorf("scd4x with 3 samples in 10 s: %v", err)
	}
}

// On a machine without the bus, scan says it cannot open it and why, and
// not that it found nothing.
func TestSensorsScanWithoutTheBus(t *testing.T) {
	out, stderr, err := runCmd(t, "sensors", "scan", "--bus", "/dev/i2c-99", "--w1", "")
	if !errors.Is(err, exitCode(1)) {
		t.Errorf("exit: %v, want 1", err)
	}
	if !strings.Contains(stderr, `cannot open i2c bus "/dev/i2c-99": /dev/i2c-99 does not exist`) || strings.Contains(stderr, "Init()") {
		t.Errorf("stderr %q", stderr)
	}
	if strings.Contains(out, "found no devices") || slices.Contains(strings.Fields(out), "sensors:") {
		t.Errorf("stdout %q claims a scan", out)
	}
}
