package soc

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgepub/edgepub/sensors"
)

func zone(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "temp")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSenseReadsMilliCelsius(t *testing.T) {
	p := zone(t, "47236\n")
	d, err := New(&Opts{Path: p})
	if err != nil {
		t.Fatal(err)
	}
	v, err := d.Sense(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if v[Field] != 47.236 || len(v) != 1 {
		t.Errorf("got %v, want soc_temperature_c 47.236", v)
	}
	// The file changes under a running reader, as the kernel's does.
	if err := os.WriteFile(p, []byte("-5000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if v, err := d.Sense(context.Background()); err != nil || v[Field] != -5 {
		t.Errorf("second read: %v, %v; want -5", v, err)
	}
}

func TestImplausibleValues(t *testing.T) {
	for _, s := range []string{"-274000", "151000"} {
		d, err := New(&Opts{Path: zone(t, s)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Sense(context.Background()); !errors.Is(err, sensors.ErrImplausible) {
			t.Errorf("%s: Sense = %v, want ErrImplausible", s, err)
		}
	}
}

func TestNewErrors(t *testing.T) {
	_, err := New(&Opts{Path: filepath.Join(t.TempDir(), "thermal_zone7", "temp")})
	if err == nil || !strings.Contains(err.Error(), "no such thermal zone") {
		t.Errorf("missing zone: %v", err)
	}
	_, err = New(&Opts{Path: zone(t, "hot")})
	if err == nil || !strings.Contains(err.Error(), "not a number") {
		t.Errorf("garbage: %v", err)
	}
}

func TestSenseHonoursDoneContext(t *testing.T) {
	d, err := New(&Opts{Path: zone(t, "40000")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.Sense(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Sense = %v, want context.Canceled", err)
	}
}

func TestDefaultPath(t *testing.T) {
	if got := DefaultOpts().Path; got != "/sys/class/thermal/thermal_zone0/temp" {
		t.Errorf("default path %q", got)
	}
}
