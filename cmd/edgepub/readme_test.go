package main

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/edgepub/edgepub/sensors/catalog"
)

// The README's sensor examples are what people paste: they must parse, and
// every type in the catalog must have one.
func TestReadmeSensorExamples(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var block string
	for _, part := range strings.Split(string(data), "```yaml\n")[1:] {
		body, _, _ := strings.Cut(part, "```")
		if strings.HasPrefix(body, "sensors:") {
			block = body
		}
	}
	if block == "" {
		t.Fatal("README has no ```yaml block starting with sensors:")
	}
	cfg, err := configParser().Parse(strings.NewReader(block))
	if err != nil {
		t.Fatalf("README sensor example: %v", err)
	}
	var used []string
	for _, s := range cfg.Sensors {
		used = append(used, s.Type)
	}
	for _, ty := range catalog.Types() {
		if !slices.Contains(used, ty.Name) && !strings.HasPrefix(ty.Name, "sim-") && !slices.Contains([]string{"bmp280", "bmp180", "ads1015"}, ty.Name) {
			t.Errorf("README has no example for sensor type %s", ty.Name)
		}
		if !strings.Contains(string(data), "`"+ty.Name+"`") {
			t.Errorf("README's sensor table does not list %s", ty.Name)
		}
	}
}
