package catalog

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/edgepub/edgepub/config"
	"periph.io/x/conn/v3/i2c/i2ctest"
)

// testBench is a bus with one of every kind of chip Scan has to tell apart.
func testBench() *deviceBus {
	return &deviceBus{devices: map[uint16]chip{
		0x18: registers(map[byte]uint16{0x06: 0x0054, 0x07: 0x0400}), // MCP9808
		0x19: registers(map[byte]uint16{}),                           // DS2482: no register 6
		0x23: registers(nil),                                         // BH1750
		0x38: registers(nil),                                         // AHT20
		0x40: registers(map[byte]uint16{0x00: 0x399f}),               // INA219
		0x44: sensirionChip(map[string][]uint16{"\x89": {0x1234, 0x5678}}),
		0x45: sensirionChip(map[string][]uint16{"\x37\x81": {0x3000}}), // HDC302x
		0x48: registers(map[byte]uint16{0x01: 0x60a0}),                 // TMP102
		0x49: registers(map[byte]uint16{0x01: 0x8583}),                 // ADS1x15
		0x50: registers(nil),                                           // an EEPROM
		0x58: sensirionChip(map[string][]uint16{"\x20\x2f": {0x0022}}), // SGP30: product type 0, version 0x22
		0x5a: registers(nil),                                           // CCS811
		0x5c: sleepyAM2320(),
		0x62: sensirionChip(map[string][]uint16{"\x36\x82": {4, 5, 6}}), // SCD4x
		0x76: registers(map[byte]uint16{0xd0: 0x60}),                    // BME280
		0x77: registers(map[byte]uint16{0xd0: 0x55}),                    // BMP180
	}}
}

func TestScanNamesWhatItFinds(t *testing.T) {
	found, err := Scan(context.Background(), testBench())
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		addr  uint16
		types []string
		chip  string
	}{
		{0x18, []string{"mcp9808"}, "MCP9808"},
		{0x19, []string{"ds18b20"}, "DS2482?"},
		{0x23, []string{"bh1750"}, ""},
		{0x38, []string{"aht20"}, ""},
		{0x40, []string{"ina219"}, ""},
		{0x44, []string{"sht4x"}, "SHT4x"},
		{0x45, []string{"hdc302x"}, "HDC302x"},
		{0x48, []string{"tmp102"}, "TMP102?"},
		{0x49, []string{"ads1115", "ads1015"}, "ADS1x15?"},
		{0x50, nil, ""},
		{0x58, []string{"sgp30"}, "SGP30"},
		{0x5a, nil, "CCS811?"},
		{0x5c, []string{"am2320"}, "AM2320"},
		{0x62, []string{"scd4x"}, "SCD4x"},
		{0x76, []string{"bme280"}, "BME280"},
		{0x77, []string{"bmp180"}, "BMP180"},
	}
	if len(found) != len(want) {
		t.Fatalf("found %d devices, want %d: %+v", len(found), len(want), found)
	}
	for i, w := range want {
		f := found[i]
		if f.Addr != w.addr || !slices.Equal(f.Types, w.types) || f.Chip != w.chip {
			t.Errorf("found %#x %v %q, want %#x %v %q", f.Addr, f.Types, f.Chip, w.addr, w.types, w.chip)
		}
	}
	for _, f := range found {
		if (f.Addr == 0x50 || f.Addr == 0x5a || f.Addr == 0x19 || f.Addr == 0x48) && f.Note == "" {
			t.Errorf("%#x needs a note", f.Addr)
		}
	}
}

func TestScanOrdersAmbiguousAddresses(t *testing.T) {
	bus := &deviceBus{devices: map[uint16]chip{
		0x44: registers(nil), // acknowledges a read: an INA219, not an SHT4x
		0x4a: registers(map[byte]uint16{0x01: 0x1234}),
		0x5c: registers(nil), // acknowledges a read: a BH1750, not a sleeping AM2320
	}}
	found, err := Scan(context.Background(), bus)
	if err != nil || len(found) != 3 {
		t.Fatalf("Scan = %+v, %v", found, err)
	}
	if found[0].Types[0] != "ina219" || len(found[0].Types) < 2 {
		t.Errorf("0x44: %v, want ina219 first and the others after", found[0].Types)
	}
	if !strings.Contains(found[1].Note, "INA219") || !slices.Contains(found[1].Types, "tmp102") || !slices.Contains(found[1].Types, "ads1115") {
		t.Errorf("0x4a: %+v, want all candidates and a note", found[1])
	}
	if found[2].Types[0] != "bh1750" {
		t.Errorf("0x5c: %v, want bh1750 first", found[2].Types)
	}
}

func TestScanStopsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	bus := &silentBus{}
	if _, err := Scan(ctx, bus); !errors.Is(err, context.Canceled) {
		t.Errorf("Scan = %v", err)
	}
	if len(bus.addrs) != 0 {
		t.Errorf("a stopped scan still probed %v", bus.addrs)
	}
}

func TestScanProbesEveryAddressOnce(t *testing.T) {
	bus := &silentBus{}
	found, err := Scan(context.Background(), bus)
	if err != nil || len(found) != 0 {
		t.Fatalf("empty bus: %v, %v", found, err)
	}
	plain := map[uint16]int{}
	for _, a := range bus.addrs {
		plain[a]++
	}
	for a := uint16(0x03); a <= 0x77; a++ {
		if plain[a] == 0 {
			t.Errorf("%#x was not probed", a)
		}
	}
	if plain[0x02] != 0 || plain[0x78] != 0 {
		t.Error("probed a reserved address")
	}
}

func TestListOneWire(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"28-0316a2799bff", "w1_bus_master1", "01-000012345678"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	found, err := ListOneWire(root)
	if err != nil || len(found) != 1 || found[0].ROM != "28-0316a2799bff" || found[0].Types[0] != "ds18b20" {
		t.Errorf("ListOneWire = %+v, %v", found, err)
	}
	if _, err := ListOneWire(filepath.Join(root, "none")); err == nil {
		t.Error("no error for a missing bus")
	}
}

func TestSnippetParsesAsConfig(t *testing.T) {
	found, err := Scan(context.Background(), testBench())
	if err != nil {
		t.Fatal(err)
	}
	found = append(found, Found{ROM: "28-0316a2799bff", Types: []string{"ds18b20"}})
	snippet := Snippet(found, bus1)
	cfg, err := config.Parse(strings.NewReader(snippet))
	if err != nil {
		t.Fatalf("the snippet does not parse: %v\n%s", err, snippet)
	}
	byName := map[string]config.Sensor{}
	for _, s := range cfg.Sensors {
		byName[s.Name] = s
	}
	for name, want := range map[string]config.Sensor{
		"bme280-76":            {Type: "bme280", Bus: bus1, Address: 0x76},
		"ads1115-49":           {Type: "ads1115", Bus: bus1, Address: 0x49},
		"am2320-5c":            {Type: "am2320", Bus: bus1, Address: 0x5c},
		"ds18b20-0316a2799bff": {Type: "ds18b20", ROM: "28-0316a2799bff"},
	} {
		got, ok := byName[name]
		if !ok {
			t.Errorf("no entry %s in\n%s", name, snippet)
			continue
		}
		if got.Type != want.Type || got.Bus != want.Bus || got.Address != want.Address || got.ROM != want.ROM {
			t.Errorf("%s = %+v, want %+v", name, got, want)
		}
	}
	if len(cfg.Sensors) != 14 { // 16 found, minus the EEPROM, the CCS811 and the DS2482 template, plus the probe
		t.Errorf("%d entries, want 14:\n%s", len(cfg.Sensors), snippet)
	}
	for _, want := range []string{"# 0x49: or type ads1015", "#   bridge: ds2482", "CCS811", "# 0x50: no driver"} {
		if !strings.Contains(snippet, want) {
			t.Errorf("the snippet lacks %q:\n%s", want, snippet)
		}
	}
	// Every entry's type is one Open knows.
	for _, s := range cfg.Sensors {
		if _, ok := Lookup(s.Type); !ok {
			t.Errorf("entry %s has unknown type %s", s.Name, s.Type)
		}
	}
}

func TestSnippetNamesAreUniqueAndBusesQuoted(t *testing.T) {
	snippet := Snippet([]Found{{Addr: 0x76, Types: []string{"bme280"}}, {Addr: 0x76, Types: []string{"bme280"}}}, "1")
	cfg, err := config.Parse(strings.NewReader(snippet))
	if err != nil {
		t.Fatalf("%v\n%s", err, snippet)
	}
	if len(cfg.Sensors) != 2 || cfg.Sensors[0].Name == cfg.Sensors[1].Name || cfg.Sensors[1].Bus != "1" {
		t.Errorf("sensors %+v", cfg.Sensors)
	}
	if got := Snippet(nil, bus1); !strings.Contains(got, "no devices") {
		t.Errorf("empty snippet %q", got)
	}
}

func TestScanBridgeAtAnAddressPeriphRefuses(t *testing.T) {
	bus := &deviceBus{devices: map[uint16]chip{0x1a: registers(map[byte]uint16{})}}
	found, err := Scan(context.Background(), bus)
	if err != nil || len(found) != 1 {
		t.Fatalf("Scan = %+v, %v", found, err)
	}
	if len(found[0].Types) != 0 || !strings.Contains(found[0].Note, "0x18 or 0x19") {
		t.Errorf("0x1a: %+v, want no type and a note on moving the bridge", found[0])
	}
}

// The BMP280 datasheet (section 5.4.1) gives 0x56 and 0x57 as the chip ids
// of samples and 0x58 for mass production; periph's driver accepts only
// 0x58. Scan must not promise a bmp280 that Open then refuses.
func TestScanNamesOnlyChipIDsTheDriverAccepts(t *testing.T) {
	for _, id := range []uint16{0x56, 0x57, 0x50} {
		bus := &deviceBus{devices: map[uint16]chip{0x76: registers(map[byte]uint16{0xd0: id})}}
		found, err := Scan(context.Background(), bus)
		if err != nil || len(found) != 1 {
			t.Fatalf("Scan = %+v, %v", found, err)
		}
		if len(found[0].Types) != 0 || found[0].Chip != "" || !strings.Contains(found[0].Note, "chip id") {
			t.Errorf("chip id %#x: named %v %q (%s); the driver refuses it", id, found[0].Types, found[0].Chip, found[0].Note)
		}
		spec := config.Sensor{Name: "x", Type: "bmp280", Bus: bus1}
		if _, err := Open(context.Background(), spec, i2cBuses(playback(i2ctest.IO{Addr: 0x76, W: []byte{0xd0}, R: []byte{byte(id)}}))); err == nil {
			t.Errorf("chip id %#x: the driver accepts it, so Scan should name it", id)
		}
	}
	// A Sensirion gas sensor of another product type (the SGPC3's, 1) at
	// the SGP30's address: the sgp30 driver refuses it (SGP30 datasheet,
	// Get_feature_set: product type 0). Like a real SGPC3 it also answers
	// Get_serial_ID (0x3682), so a scan that probed only that would name it.
	sgpc3 := &deviceBus{devices: map[uint16]chip{0x58: sensirionChip(map[string][]uint16{
		"\x20\x2f": {0x1006},
		"\x36\x82": {0x0000, 0x0123, 0x4567},
	})}}
	if found, err := Scan(context.Background(), sgpc3); err != nil || len(found) != 1 || len(found[0].Types) != 0 || !strings.Contains(found[0].Note, "product type 1") {
		t.Errorf("an SGPC3: %+v, %v", found, err)
	}
	// An MCP9808's device id is 0x04 (datasheet table 5-1); a Microchip
	// part with another one is refused by the driver.
	bus := &deviceBus{devices: map[uint16]chip{0x1c: registers(map[byte]uint16{0x06: 0x0054, 0x07: 0x0500})}}
	found, err := Scan(context.Background(), bus)
	if err != nil || len(found) != 1 || len(found[0].Types) != 0 {
		t.Errorf("a Microchip part with device id 5: %+v, %v", found, err)
	}
}

// At 0x29 Scan reads the ID register (0x12 through the command byte 0xA0):
// the TSL2591 datasheet's 0x50 names it, and its snippet opens it; any
// other id (a TCS34725's is 0x44) is a chip the driver refuses, which Scan
// does not name.
func TestScanNamesATSL2591ByItsID(t *testing.T) {
	bus := &deviceBus{devices: map[uint16]chip{0x29: registers(map[byte]uint16{0xB2: 0x50})}}
	found, err := Scan(context.Background(), bus)
	if err != nil || len(found) != 1 || found[0].Chip != "TSL2591" || !slices.Equal(found[0].Types, []string{"tsl2591"}) {
		t.Fatalf("Scan = %+v, %v; want a TSL2591 at 0x29", found, err)
	}
	cfg, err := config.Parse(strings.NewReader(Snippet(found, bus1)))
	if err != nil || len(cfg.Sensors) != 1 || cfg.Sensors[0].Type != "tsl2591" {
		t.Fatalf("snippet: %+v, %v", cfg.Sensors, err)
	}
	spec := cfg.Sensors[0]
	// Open's traffic: id, CONTROL 0x10 (gain 25×, 100 ms), ENABLE PON|AEN;
	// a read: STATUS with AVALID, then C0 = 2448, C1 = 0 counts, 2448 ×
	// 408 / 2500 = 399.5136 lx.
	pb := playback(
		i2ctest.IO{Addr: 0x29, W: []byte{0xB2}, R: []byte{0x50}},
		i2ctest.IO{Addr: 0x29, W: []byte{0xA1, 0x10}},
		i2ctest.IO{Addr: 0x29, W: []byte{0xA0, 0x03}},
		i2ctest.IO{Addr: 0x29, W: []byte{0xB3}, R: []byte{0x01}},
		i2ctest.IO{Addr: 0x29, W: []byte{0xB4}, R: []byte{0x90, 0x09, 0x00, 0x00}},
	)
	s := mustOpen(t, spec, i2cBuses(pb))
	if v, err := s.Sense(context.Background()); err != nil || math.Abs(v["illuminance_lux"]-399.5136) > 1e-6 {
		t.Errorf("Sense = %v, %v; want 399.5136 lx", v, err)
	}
	allUsed(t, pb)

	other := &deviceBus{devices: map[uint16]chip{0x29: registers(map[byte]uint16{0xB2: 0x44})}}
	found, err = Scan(context.Background(), other)
	if err != nil || len(found) != 1 || len(found[0].Types) != 0 || found[0].Chip != "" || !strings.Contains(found[0].Note, "0x44 is not the TSL2591's 0x50") {
		t.Errorf("id 0x44 at 0x29: %+v, %v; want no type named", found, err)
	}
	if _, err := Open(context.Background(), spec, i2cBuses(playback(i2ctest.IO{Addr: 0x29, W: []byte{0xB2}, R: []byte{0x44}}))); err == nil {
		t.Error("the driver accepts id 0x44, so Scan should name it")
	}
}
