package ds18b20

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/edgepub/edgepub/sensors"
	"github.com/edgepub/edgepub/sensors/internal/bustest"
	"periph.io/x/conn/v3/onewire"
	"periph.io/x/conn/v3/onewire/onewiretest"
)

// A real probe's address as periph's own tests record it: family 0x28,
// serial 0x0000070e41ac, CRC 0x74.
const (
	realAddr onewire.Address = 0x740000070e41ac28
	realROM                  = "28-0000070e41ac"
)

func TestROMRoundTripMatchesARealProbe(t *testing.T) {
	if got := FormatROM(realAddr); got != realROM {
		t.Errorf("FormatROM = %q, want %q", got, realROM)
	}
	a, err := ParseROM(realROM)
	if err != nil {
		t.Fatal(err)
	}
	if a != realAddr {
		t.Errorf("ParseROM = %#x, want %#x (the CRC byte must match the probe's)", uint64(a), uint64(realAddr))
	}
	upper, err := ParseROM("28-0000070E41AC")
	if err != nil || upper != realAddr {
		t.Errorf("upper case: %#x, %v", uint64(upper), err)
	}
}

func TestParseROMRejectsMalformedIDs(t *testing.T) {
	for _, s := range []string{"", "28", "280000070e41ac", "28-0000070e41a", "28-0000070e41acff", "zz-0000070e41ac", "28-00000g0e41ac"} {
		if _, err := ParseROM(s); err == nil {
			t.Errorf("ParseROM(%q) succeeded", s)
		}
	}
}

func TestDecodeCelsiusDatasheetTable(t *testing.T) {
	// Datasheet table "Temperature/Data Relationship".
	for _, c := range []struct {
		raw  uint16
		want float64
	}{
		{0x07d0, 125}, {0x0550, 85}, {0x0191, 25.0625}, {0x00a2, 10.125}, {0x0008, 0.5},
		{0x0000, 0}, {0xfff8, -0.5}, {0xff5e, -10.125}, {0xfe6f, -25.0625}, {0xfc90, -55},
	} {
		spad := []byte{byte(c.raw), byte(c.raw >> 8)}
		if got := decodeCelsius(spad, 12); got != c.want {
			t.Errorf("raw %#04x: got %v, want %v", c.raw, got, c.want)
		}
	}
	// At 9 bits the three lowest bits are undefined and must be ignored.
	if got := decodeCelsius([]byte{0x97, 0x01}, 9); got != 25 {
		t.Errorf("9-bit decode of 0x0197 = %v, want 25", got)
	}
}

func TestSenseReturnsAtOnceWhenContextIsDone(t *testing.T) {
	called := false
	d := &Dev{name: "x", readCelsius: func(context.Context) (float64, error) { called = true; return 20, nil }}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.Sense(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sense = %v, want context.Canceled", err)
	}
	if called {
		t.Error("Sense touched the bus with a done context")
	}
}

// --- sysfs ---

// fakeW1 builds a /sys/bus/w1/devices-like tree with the given files.
func fakeW1(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "w1_bus_master1"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

const rom1 = "28-0316a2799bff"

func senseSysfs(t *testing.T, files map[string]string) (sensors.Values, error) {
	t.Helper()
	root := fakeW1(t, files)
	d, err := NewSysfs(rom1, &Opts{SysfsRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	return d.Sense(context.Background())
}

func TestSysfsW1Slave(t *testing.T) {
	v, err := senseSysfs(t, map[string]string{
		rom1 + "/w1_slave": "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n",
	})
	if err != nil {
		t.Fatal(err)
	}
	if v[Field] != 23.125 || len(v) != 1 {
		t.Errorf("got %v, want temperature_c 23.125", v)
	}
}

func TestSysfsNegativeTemperature(t *testing.T) {
	v, err := senseSysfs(t, map[string]string{
		rom1 + "/w1_slave": "5e ff 4b 46 7f ff 02 10 0b : crc=0b YES\n5e ff 4b 46 7f ff 02 10 0b t=-10125\n",
	})
	if err != nil || v[Field] != -10.125 {
		t.Errorf("got %v, %v; want -10.125", v, err)
	}
}

func TestSysfsTemperatureFileWhenNoW1Slave(t *testing.T) {
	v, err := senseSysfs(t, map[string]string{rom1 + "/temperature": "21500\n"})
	if err != nil || v[Field] != 21.5 {
		t.Errorf("got %v, %v; want 21.5", v, err)
	}
}

func TestSysfsErrors(t *testing.T) {
	for _, c := range []struct {
		name, file, content string
		implausible         bool
		wantInErr           string
	}{
		{"crc NO", "w1_slave", "ff ff ff ff ff ff ff ff ff : crc=c9 NO\nff ff ff ff ff ff ff ff ff t=-62\n", false, "crc mismatch"},
		{"power-on 85", "w1_slave", "50 05 4b 46 7f ff 0c 10 1c : crc=1c YES\n50 05 4b 46 7f ff 0c 10 1c t=85000\n", true, "85.000"},
		{"all zeros", "w1_slave", "00 00 00 00 00 00 00 00 00 : crc=00 YES\n00 00 00 00 00 00 00 00 00 t=0\n", false, "all zeros"},
		{"cut short", "w1_slave", "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n", false, "cut short"},
		{"garbled t", "w1_slave", "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=x\n", false, "not a number"},
		{"no t", "w1_slave", "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57\n", false, "no t="},
		{"too hot", "temperature", "126000", true, "outside"},
		{"too cold", "temperature", "-55500", true, "outside"},
		{"85 in temperature", "temperature", "85000", true, "power-on"},
		{"empty temperature", "temperature", "", false, "not a number"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := senseSysfs(t, map[string]string{rom1 + "/" + c.file: c.content})
			if err == nil {
				t.Fatal("no error")
			}
			if errors.Is(err, sensors.ErrImplausible) != c.implausible {
				t.Errorf("errors.Is(ErrImplausible) = %v, want %v: %v", !c.implausible, c.implausible, err)
			}
			if !strings.Contains(err.Error(), c.wantInErr) || !strings.Contains(err.Error(), rom1) {
				t.Errorf("error %q lacks %q or the rom id", err, c.wantInErr)
			}
		})
	}
}

func TestSysfsProbeLeavesTheBus(t *testing.T) {
	root := fakeW1(t, map[string]string{rom1 + "/temperature": "20000"})
	d, err := NewSysfs(rom1, &Opts{SysfsRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(root, rom1)); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Sense(context.Background()); err == nil || !strings.Contains(err.Error(), "left the bus") {
		t.Errorf("Sense = %v, want a 'left the bus' error", err)
	}
}

func TestNewSysfsNamesThePresentProbes(t *testing.T) {
	root := fakeW1(t, map[string]string{"28-0000070e41ac/w1_slave": "", "3b-000000000001/w1_slave": ""})
	_, err := NewSysfs(rom1, &Opts{SysfsRoot: root})
	if err == nil || !strings.Contains(err.Error(), "28-0000070e41ac, 3b-000000000001") {
		t.Errorf("NewSysfs = %v, want the present probes listed", err)
	}
	_, err = NewSysfs(rom1, &Opts{SysfsRoot: filepath.Join(root, "nope")})
	if err == nil || !strings.Contains(err.Error(), "dtoverlay=w1-gpio") {
		t.Errorf("NewSysfs without a bus = %v, want the enable hint", err)
	}
	if _, err := NewSysfs("28-xyz", &Opts{SysfsRoot: root}); err == nil {
		t.Error("NewSysfs accepted a malformed rom id")
	}
}

func TestDiscoverSysfsListsThermometersOnly(t *testing.T) {
	root := fakeW1(t, map[string]string{
		"28-0316a2799bff/w1_slave": "", "28-0000070E41AC/w1_slave": "",
		"01-000012345678/id": "", "22-00000000abcd/w1_slave": "",
	})
	got, err := DiscoverSysfs(root)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"22-00000000abcd", "28-0000070e41ac", "28-0316a2799bff"}
	if !slices.Equal(got, want) {
		t.Errorf("DiscoverSysfs = %v, want %v", got, want)
	}
}

// --- 1-Wire bus ---

// timedBus passes transfers on to its playback and notes the driver's
// waits between them, as bustest.Timed does for I²C; tests use it in a
// synctest bubble.
type timedBus struct {
	*onewiretest.Playback
	bustest.Gaps
}

func (b *timedBus) Tx(w, r []byte, power onewire.Pullup) error {
	b.Note()
	return b.Playback.Tx(w, r, power)
}

// scratchpad builds a probe's 9 scratchpad bytes for a raw temperature and a
// configuration register, with a correct CRC.
func scratchpad(raw uint16, cfg byte) []byte {
	s := []byte{byte(raw), byte(raw >> 8), 0x4b, 0x46, cfg, 0xff, 0x0c, 0x10, 0}
	s[8] = onewire.CalcCRC(s[:8])
	return s
}

// matchROM prefixes a function command with the Match ROM sequence for realAddr.
func matchROM(cmd ...byte) []byte {
	return append([]byte{0x55, 0x28, 0xac, 0x41, 0x0e, 0x07, 0x00, 0x00, 0x74}, cmd...)
}

func TestOneWireSense(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := &onewiretest.Playback{DontPanic: true, Ops: []onewiretest.IO{
			{W: matchROM(0xbe), R: scratchpad(0x0550, 0x7f)}, // New: already 12 bits
			{W: matchROM(0x44), Pull: onewire.StrongPullup},  // convert
			{W: matchROM(0xbe), R: scratchpad(0x0191, 0x7f)}, // 25.0625 °C
		}}
		timed := &timedBus{Playback: bus}
		d, err := NewOneWire(timed, realROM, nil)
		if err != nil {
			t.Fatal(err)
		}
		v, err := d.Sense(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if v[Field] != 25.0625 {
			t.Errorf("got %v, want 25.0625", v)
		}
		if !slices.Equal(timed.Waits(), []time.Duration{752 * time.Millisecond}) {
			t.Errorf("waited %v, want one 752ms conversion", timed.Waits())
		}
		bustest.AllUsed(t, bus)
	})
}

func TestOneWireSetsResolutionKeepingAlarmBytes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := &onewiretest.Playback{DontPanic: true, Ops: []onewiretest.IO{
			{W: matchROM(0xbe), R: scratchpad(0x0550, 0x7f)},
			{W: matchROM(0x4e, 0x4b, 0x46, 0x3f)},
			{W: matchROM(0x48), Pull: onewire.StrongPullup},
			{W: matchROM(0x44), Pull: onewire.StrongPullup},
			{W: matchROM(0xbe), R: scratchpad(0x00a2, 0x3f)},
		}}
		timed := &timedBus{Playback: bus}
		d, err := NewOneWire(timed, realROM, &Opts{Resolution: 10})
		if err != nil {
			t.Fatal(err)
		}
		v, err := d.Sense(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if v[Field] != 10 { // 10.125 with the undefined lowest 10-bit bit cleared
			t.Errorf("got %v, want 10", v)
		}
		if !slices.Equal(timed.Waits(), []time.Duration{10 * time.Millisecond, 188 * time.Millisecond}) {
			t.Errorf("waited %v, want the EEPROM write then a 188ms conversion", timed.Waits())
		}
		bustest.AllUsed(t, bus)
	})
}

func TestOneWireErrors(t *testing.T) {
	bad := scratchpad(0x0191, 0x7f)
	bad[8] ^= 0xff
	for _, c := range []struct {
		name        string
		read        []byte
		implausible bool
		wantInErr   string
	}{
		{"power-on 85", scratchpad(0x0550, 0x7f), true, "power-on"},
		{"crc", bad, false, "crc mismatch"},
		{"no answer", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, false, "no answer"},
		{"all zeros", make([]byte, 9), false, "all zeros"},
		{"too hot", scratchpad(0x07e0, 0x7f), true, "outside"},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				bus := &onewiretest.Playback{DontPanic: true, Ops: []onewiretest.IO{
					{W: matchROM(0xbe), R: scratchpad(0x0550, 0x7f)},
					{W: matchROM(0x44), Pull: onewire.StrongPullup},
					{W: matchROM(0xbe), R: c.read},
				}}
				d, err := NewOneWire(bus, realROM, nil)
				if err != nil {
					t.Fatal(err)
				}
				_, err = d.Sense(context.Background())
				if err == nil {
					t.Fatal("no error")
				}
				if errors.Is(err, sensors.ErrImplausible) != c.implausible {
					t.Errorf("errors.Is(ErrImplausible) wrong for %v", err)
				}
				if !strings.Contains(err.Error(), c.wantInErr) || !strings.Contains(err.Error(), realROM) {
					t.Errorf("error %q lacks %q or the rom id", err, c.wantInErr)
				}
				bustest.AllUsed(t, bus)
			})
		})
	}
}

func TestOneWireBusErrorIsWrapped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := &onewiretest.Playback{DontPanic: true} // every Tx fails
		_, err := NewOneWire(bus, realROM, nil)
		if err == nil || !strings.Contains(err.Error(), "reading the scratchpad") || !strings.Contains(err.Error(), "playback") {
			t.Errorf("NewOneWire = %v, want a wrapped bus error naming the bus", err)
		}
	})
}

func TestOneWireConversionWaitHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := &onewiretest.Playback{DontPanic: true, Ops: []onewiretest.IO{
			{W: matchROM(0xbe), R: scratchpad(0x0550, 0x7f)},
			{W: matchROM(0x44), Pull: onewire.StrongPullup},
		}}
		d, err := NewOneWire(bus, realROM, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		if _, err := d.Sense(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Sense = %v, want DeadlineExceeded", err)
		}
		if took := time.Since(start); took != 100*time.Millisecond {
			t.Errorf("Sense returned after %v, want 100ms: at the deadline, not after the 752 ms conversion", took)
		}
		bustest.AllUsed(t, bus)
	})
}

func TestNewOneWireRejectsBadOptions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := &onewiretest.Playback{DontPanic: true}
		if _, err := NewOneWire(bus, realROM, &Opts{Resolution: 13}); err == nil {
			t.Error("accepted 13 bits")
		}
		if _, err := NewOneWire(bus, "01-000012345678", nil); err == nil || !strings.Contains(err.Error(), "not a DS18B20") {
			t.Errorf("accepted a DS2401 serial number chip: %v", err)
		}
	})
}

func TestDiscoverSearchesTheBus(t *testing.T) {
	ds2401, err := ParseROM("01-000012345678")
	if err != nil {
		t.Fatal(err)
	}
	other, err := ParseROM(rom1)
	if err != nil {
		t.Fatal(err)
	}
	bus := &onewiretest.Playback{DontPanic: true,
		Devices: []onewire.Address{other, ds2401, realAddr},
		Ops:     []onewiretest.IO{{W: []byte{0xf0}}, {W: []byte{0xf0}}, {W: []byte{0xf0}}},
	}
	got, err := Discover(bus)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{realROM, rom1}; !slices.Equal(got, want) {
		t.Errorf("Discover = %v, want %v", got, want)
	}
	bustest.AllUsed(t, bus)
}
