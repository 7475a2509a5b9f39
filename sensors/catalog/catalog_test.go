package catalog

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/edgepub/edgepub/config"
	"github.com/edgepub/edgepub/sensors"
	"github.com/edgepub/edgepub/sensors/internal/sensirion"
	"periph.io/x/conn/v3/conntest"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/onewire"
	"periph.io/x/conn/v3/onewire/onewiretest"
	"periph.io/x/conn/v3/spi"
	"periph.io/x/conn/v3/spi/spitest"
)

const bus1 = "/dev/i2c-1"

// words encodes Sensirion words with their CRCs.
func words(ws ...uint16) []byte {
	var b []byte
	for _, w := range ws {
		p := []byte{byte(w >> 8), byte(w)}
		b = append(append(b, p...), sensirion.CRC8(p))
	}
	return b
}

func playback(ops ...i2ctest.IO) *i2ctest.Playback {
	return &i2ctest.Playback{DontPanic: true, Ops: ops}
}

func i2cBuses(b i2c.Bus) *fakeBuses {
	return &fakeBuses{i2c: map[string]i2c.Bus{bus1: b}}
}

func mustOpen(t *testing.T, spec config.Sensor, buses Buses) sensors.Sensor {
	t.Helper()
	s, err := Open(context.Background(), spec, buses)
	if err != nil {
		t.Fatalf("Open(%s): %v", spec.Type, err)
	}
	if s == nil {
		t.Fatalf("Open(%s) returned a nil sensor", spec.Type)
	}
	return s
}

func allUsed(t *testing.T, closer interface{ Close() error }) {
	t.Helper()
	if err := closer.Close(); err != nil {
		t.Errorf("not every recorded transfer happened: %v", err)
	}
}

// The BMP280 datasheet's calibration words, as the sibling bmxx80 tests use.
func bmp280Calibration() []byte {
	b := make([]byte, 0, 26)
	for _, w := range []int{27504, 26435, -1000, 36477, -10685, 3024, 2855, 140, -7, 15500, -14600, 6000, 0} {
		b = binary.LittleEndian.AppendUint16(b, uint16(int16(w)))
	}
	return b
}

func bmp280InitOps(addr uint16) []i2ctest.IO {
	return []i2ctest.IO{
		{Addr: addr, W: []byte{0xd0}, R: []byte{0x58}},
		{Addr: addr, W: []byte{0x88}, R: bmp280Calibration()},
		{Addr: addr, W: []byte{0xf4, 0x24, 0xf5, 0xa0, 0xf4, 0x24}},
	}
}

// TestEveryTypeUsesItsDefaultAddress opens every I²C type on a bus where
// nothing answers: each must reach its driver, which must talk to the
// type's default address and report the silence.
func TestEveryTypeUsesItsDefaultAddress(t *testing.T) {
	for _, ti := range Types() {
		if !strings.HasPrefix(ti.Bus, "i2c") {
			continue
		}
		t.Run(ti.Name, func(t *testing.T) {
			bus := &silentBus{}
			s, err := Open(context.Background(), config.Sensor{Name: "x", Type: ti.Name, Bus: bus1}, i2cBuses(bus))
			if ti.Name == "am2320" {
				// The AM2320 sleeps; its driver first talks to it at Sense.
				if err != nil {
					t.Fatal(err)
				}
				_, err = s.Sense(context.Background())
			} else if err == nil || !strings.Contains(err.Error(), `sensor "x" (type `+ti.Name+`)`) {
				t.Errorf("error %v does not name the sensor and its type", err)
			}
			// periph's bmxx80 flattens the bus error into text (%v), so
			// only the text survives there.
			if err == nil || (!errors.Is(err, errNACK) && !strings.Contains(err.Error(), errNACK.Error())) {
				t.Fatalf("got %v, want the bus's NACK", err)
			}
			if len(bus.addrs) == 0 || bus.addrs[0] != ti.Addresses[0] {
				t.Errorf("talked to %#x, want the default %#x first", bus.addrs, ti.Addresses[0])
			}
		})
	}
}

func TestOpenOwnDrivers(t *testing.T) {
	for _, c := range []struct {
		spec config.Sensor
		ops  []i2ctest.IO
	}{
		{config.Sensor{Type: "bh1750"}, []i2ctest.IO{{Addr: 0x23, W: []byte{0x00}}}},
		{config.Sensor{Type: "bh1750", Address: 0x5c}, []i2ctest.IO{{Addr: 0x5c, W: []byte{0x00}}}},
		{config.Sensor{Type: "scd4x"}, []i2ctest.IO{
			{Addr: 0x62, W: []byte{0x3f, 0x86}}, {Addr: 0x62, W: []byte{0x36, 0x82}},
			{Addr: 0x62, R: words(1, 2, 3)}, {Addr: 0x62, W: []byte{0x21, 0xb1}},
		}},
		{config.Sensor{Type: "sgp30"}, []i2ctest.IO{
			{Addr: 0x58, W: []byte{0x20, 0x2f}}, {Addr: 0x58, R: words(0x0022)}, {Addr: 0x58, W: []byte{0x20, 0x03}},
		}},
		// ina219 with the driver options of the configuration: 10 A over
		// 0.01 Ω needs the ±160 mV range, configuration 0x319f.
		{config.Sensor{Type: "ina219", Address: 0x41, Driver: config.DriverOpts{ShuntOhms: 0.01, MaxCurrentA: 10}}, []i2ctest.IO{
			{Addr: 0x41, W: []byte{0x00, 0x31, 0x9f}}, {Addr: 0x41, W: []byte{0x00}, R: []byte{0x31, 0x9f}},
		}},
		{config.Sensor{Type: "ads1015", Address: 0x4a}, []i2ctest.IO{{Addr: 0x4a, W: []byte{0x01}, R: []byte{0x85, 0x83}}}},
		{config.Sensor{Type: "sht4x"}, []i2ctest.IO{{Addr: 0x44, W: []byte{0x89}}, {Addr: 0x44, R: words(0x1234, 0x5678)}}},
		{config.Sensor{Type: "bmp280"}, bmp280InitOps(0x76)},
		{config.Sensor{Type: "bmp280", Address: 0x77}, bmp280InitOps(0x77)},
	} {
		t.Run(c.spec.Type, func(t *testing.T) {
			c.spec.Name, c.spec.Bus = "x", bus1
			bus := playback(c.ops...)
			mustOpen(t, c.spec, i2cBuses(bus))
			allUsed(t, bus)
		})
	}
}

func TestOpenADCMapsConfiguredChannels(t *testing.T) {
	// Input 1 at gain 2 (±2.048 V), 128 SPS: configuration 0xd583. Half
	// scale is 1.024 V; ×100 − 10 gives 92.4.
	bus := playback(
		i2ctest.IO{Addr: 0x48, W: []byte{0x01}, R: []byte{0x85, 0x83}},
		i2ctest.IO{Addr: 0x48, W: []byte{0x01, 0xd5, 0x83}},
		i2ctest.IO{Addr: 0x48, W: []byte{0x01}, R: []byte{0xd5, 0x83}},
		i2ctest.IO{Addr: 0x48, W: []byte{0x00}, R: []byte{0x40, 0x00}},
	)
	s := mustOpen(t, config.Sensor{Name: "soil", Type: "ads1115", Bus: bus1, Driver: config.DriverOpts{
		Channels: []config.ADCChannel{{Input: 1, Field: "moisture_pct", Gain: 2, Scale: 100, Offset: -10}},
	}}, i2cBuses(bus))
	v, err := s.Sense(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(v["moisture_pct"]-92.4) > 1e-9 || len(v) != 1 {
		t.Errorf("got %v, want moisture_pct 92.4", v)
	}
	allUsed(t, bus)
}

func TestOpenBoschChecksTheModel(t *testing.T) {
	bus := playback(bmp280InitOps(0x76)...)
	_, err := Open(context.Background(), config.Sensor{Name: "room", Type: "bme280", Bus: bus1}, i2cBuses(bus))
	if err == nil || !strings.Contains(err.Error(), "is a BMP280, not a bme280: set type: bmp280") {
		t.Errorf("a BMP280 configured as bme280: %v", err)
	}
}

// closeCounter counts how often a port was closed.
type closeCounter struct {
	*spitest.Playback
	closed int
}

func (p *closeCounter) Close() error { p.closed++; return p.Playback.Close() }

func TestOpenBoschOverSPI(t *testing.T) {
	read := func(reg byte, data []byte) conntest.IO {
		return conntest.IO{W: append([]byte{reg}, make([]byte, len(data))...), R: append([]byte{0}, data...)}
	}
	port := &closeCounter{Playback: &spitest.Playback{Playback: conntest.Playback{DontPanic: true, Ops: []conntest.IO{
		read(0xd0, []byte{0x58}),
		read(0x88, bmp280Calibration()),
		{W: []byte{0x74, 0x24, 0x75, 0xa0, 0x74, 0x24}},
	}}}}
	buses := &fakeBuses{spi: map[string]spi.PortCloser{"/dev/spidev0.0": port}}
	mustOpen(t, config.Sensor{Name: "x", Type: "bmp280", Bus: "/dev/spidev0.0"}, buses)
	if port.closed != 0 {
		t.Error("the port of a working sensor was closed")
	}

	// A chip that does not answer: the port is released for the next try.
	silent := &closeCounter{Playback: &spitest.Playback{Playback: conntest.Playback{DontPanic: true}}}
	buses = &fakeBuses{spi: map[string]spi.PortCloser{"SPI0.1": silent}}
	if _, err := Open(context.Background(), config.Sensor{Name: "x", Type: "bme280", Bus: "SPI0.1"}, buses); err == nil {
		t.Fatal("opened a silent SPI sensor")
	}
	if silent.closed != 1 {
		t.Errorf("port closed %d times after a failed open, want 1", silent.closed)
	}
	if _, err := Open(context.Background(), config.Sensor{Name: "x", Type: "bmp180", Bus: "/dev/spidev0.0"}, buses); err == nil || !strings.Contains(err.Error(), "only I²C") {
		t.Errorf("bmp180 on SPI: %v", err)
	}
}

func TestOpenDS18B20(t *testing.T) {
	root := t.TempDir()
	rom := "28-0316a2799bff"
	if err := os.MkdirAll(filepath.Join(root, rom), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, rom, "temperature"), []byte("21500\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, bridge := range []string{"", "sysfs"} {
		s := mustOpen(t, config.Sensor{Name: "probe", Type: "ds18b20", Bus: root, ROM: rom, Bridge: bridge}, &fakeBuses{})
		if v, err := s.Sense(context.Background()); err != nil || v["temperature_c"] != 21.5 {
			t.Errorf("bridge %q: %v, %v", bridge, v, err)
		}
	}

	// Behind a DS2482 at the default 0x18: the driver reads the scratchpad.
	spad := []byte{0x50, 0x05, 0x4b, 0x46, 0x7f, 0xff, 0x0c, 0x10, 0}
	spad[8] = onewire.CalcCRC(spad[:8])
	ow := &onewiretest.Playback{DontPanic: true, Ops: []onewiretest.IO{
		{W: []byte{0x55, 0x28, 0xac, 0x41, 0x0e, 0x07, 0x00, 0x00, 0x74, 0xbe}, R: spad},
	}}
	buses := &fakeBuses{bridges: map[string]onewire.Bus{bus1 + "@0x18": ow}}
	mustOpen(t, config.Sensor{Name: "probe", Type: "ds18b20", Bridge: "ds2482", Bus: bus1, ROM: "28-0000070e41ac"}, buses)
	allUsed(t, ow)

	for _, c := range []struct {
		spec config.Sensor
		want string
	}{
		{config.Sensor{Type: "ds18b20", Bus: root}, "rom is empty"},
		{config.Sensor{Type: "ds18b20", ROM: rom, Bridge: "usb"}, `bridge "usb"`},
		{config.Sensor{Type: "ds18b20", ROM: rom, Bridge: "ds2482"}, "bus is empty"},
		{config.Sensor{Type: "ds18b20", ROM: "28-000000000001", Bus: root}, "not on the 1-Wire bus"},
	} {
		c.spec.Name = "probe"
		if _, err := Open(context.Background(), c.spec, &fakeBuses{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.spec, err, c.want)
		}
	}
}

func TestOpenFileAndSimulatedTypes(t *testing.T) {
	zone := filepath.Join(t.TempDir(), "temp")
	if err := os.WriteFile(zone, []byte("48312\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		spec  config.Sensor
		field string
	}{
		{config.Sensor{Type: "soc", Path: zone}, "soc_temperature_c"},
		{config.Sensor{Type: "sim-soc"}, "soc_temperature_c"},
		{config.Sensor{Type: "sim-bme280", Seed: 7}, "pressure_hpa"},
	} {
		c.spec.Name = "x"
		buses := &fakeBuses{}
		s := mustOpen(t, c.spec, buses)
		v, err := s.Sense(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := v[c.field]; !ok {
			t.Errorf("%s: got %v, want %s", c.spec.Type, v, c.field)
		}
		if len(buses.asked) != 0 {
			t.Errorf("%s asked for buses %v", c.spec.Type, buses.asked)
		}
	}
	if v, _ := mustOpen(t, config.Sensor{Name: "x", Type: "soc", Path: zone}, &fakeBuses{}).Sense(context.Background()); v["soc_temperature_c"] != 48.312 {
		t.Errorf("soc read %v", v)
	}
}

func TestSimSeedComesFromTheName(t *testing.T) {
	a, b := simSeed(config.Sensor{Name: "a"}), simSeed(config.Sensor{Name: "b"})
	if a == b || a == 0 {
		t.Errorf("seeds %d and %d", a, b)
	}
	if a != simSeed(config.Sensor{Name: "a"}) {
		t.Error("the seed of a name changes")
	}
	if got := simSeed(config.Sensor{Name: "a", Seed: 42}); got != 42 {
		t.Errorf("explicit seed became %d", got)
	}
}

func TestOpenErrors(t *testing.T) {
	_, err := Open(context.Background(), config.Sensor{Name: "x", Type: "dht33"}, &fakeBuses{})
	if err == nil || !strings.Contains(err.Error(), `unknown type "dht33"`) {
		t.Fatalf("unknown type: %v", err)
	}
	for _, ti := range Types() {
		if !strings.Contains(err.Error(), ti.Name) {
			t.Errorf("the unknown-type error does not list %s", ti.Name)
		}
	}

	for _, typ := range []string{"sht4x", "aht20", "ina219", "ads1115"} {
		buses := &fakeBuses{}
		_, err := Open(context.Background(), config.Sensor{Name: "x", Type: typ}, buses)
		if !errors.Is(err, errNoBusName) || !strings.Contains(err.Error(), "/dev/i2c-1") {
			t.Errorf("%s without a bus: %v", typ, err)
		}
		if len(buses.asked) != 0 {
			t.Errorf("%s without a bus asked for %v", typ, buses.asked)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Open(ctx, config.Sensor{Name: "x", Type: "sim-soc"}, &fakeBuses{}); !errors.Is(err, context.Canceled) {
		t.Errorf("done context: %v", err)
	}
	if _, err := Open(context.Background(), config.Sensor{Name: "x", Type: "aht20", Bus: "/dev/i2c-7"}, i2cBuses(&silentBus{})); err == nil || !strings.Contains(err.Error(), "/dev/i2c-7") {
		t.Errorf("missing bus: %v", err)
	}
}

func TestTypesAreSortedAndComplete(t *testing.T) {
	types := Types()
	if !slices.IsSortedFunc(types, func(a, b TypeInfo) int { return strings.Compare(a.Name, b.Name) }) {
		t.Error("Types is not sorted")
	}
	for _, ti := range types {
		if ti.Chip == "" || ti.Summary == "" || len(ti.Fields) == 0 || ti.Bus == "" || ti.Open == nil {
			t.Errorf("%s is not fully described: %+v", ti.Name, ti)
		}
		if strings.HasPrefix(ti.Bus, "i2c") && len(ti.Addresses) == 0 {
			t.Errorf("%s has no default address", ti.Name)
		}
		// Every listed type reaches a driver: the error, if any, is not
		// the unknown-type one.
		_, err := Open(context.Background(), config.Sensor{Name: "x", Type: ti.Name, Bus: bus1}, i2cBuses(&silentBus{}))
		if err != nil && strings.Contains(err.Error(), "unknown type") {
			t.Errorf("Types lists %s but Open does not know it", ti.Name)
		}
	}
}
