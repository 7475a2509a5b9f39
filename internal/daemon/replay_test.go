package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/onewire"
	"periph.io/x/conn/v3/spi"

	"github.com/edgepub/edgepub/config"
	"github.com/edgepub/edgepub/internal/mosquittotest"
	"github.com/edgepub/edgepub/sensors"
	"github.com/edgepub/edgepub/sensors/catalog"
)

// replayBuses serves recorded I2C traffic through the real catalog, as the
// Pi's buses would.
type replayBuses struct{ i2c map[string]i2c.Bus }

func (b replayBuses) I2C(name string) (i2c.Bus, error) {
	if bus, ok := b.i2c[name]; ok {
		return bus, nil
	}
	return nil, errors.New("no such bus " + name)
}

func (replayBuses) SPI(string) (spi.PortCloser, error) { return nil, errors.New("no SPI here") }

func (replayBuses) OneWireBridge(string, uint16) (onewire.Bus, error) {
	return nil, errors.New("no 1-Wire here")
}

// An AM2320 answers once with the datasheet's example reply and then its
// bus stops answering (unplugged): its one reading goes out, its failure
// shows in the health message, and the simulated sensors go on publishing.
func TestReplayedSensorFailsWhileOthersGoOn(t *testing.T) {
	pki := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
	broker := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki})
	sub := broker.Subscribe(t, "#", mosquittotest.SubOpts{})
	bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
		{Addr: 0x5C, W: []byte{0x00}},             // wake-up
		{Addr: 0x5C, W: []byte{0x03, 0x00, 0x04}}, // read 4 registers from 0
		{Addr: 0x5C, R: []byte{0x03, 0x04, 0x03, 0x39, 0x01, 0x15, 0xE1, 0xFE}},
	}}
	buses := replayBuses{i2c: map[string]i2c.Bus{"/dev/i2c-1": bus}}
	cfg := testConfig(t, broker, pki.DeviceDir(t, "Kai"), t.TempDir())
	cfg.Sensors = append(cfg.Sensors, config.Sensor{Name: "greenhouse", Type: "am2320", Bus: "/dev/i2c-1", Address: 0x5C,
		// The datasheet's 2 s between reads, and a timeout a loaded
		// machine cannot hit: a first read cut short would leave the
		// playback mid-exchange and the example reading would never come.
		Interval: config.Duration(2 * time.Second), Timeout: config.Duration(time.Second), Samples: 1})
	startDaemon(t, Opts{Config: cfg, OpenSensor: func(ctx context.Context, spec config.Sensor) (sensors.Sensor, error) {
		return catalog.Open(ctx, spec, buses)
	}})

	var health Health
	msgs := sub.WaitFor(15*time.Second, "the replayed reading, its failure in health, and healthy readings", func(m []mosquittotest.Message) bool {
		healthy := 0
		for _, r := range readings(t, m, "Kai") {
			if r.Sensor != "greenhouse" {
				healthy++
			}
		}
		for _, msg := range m {
			if msg.Topic == "Kai/health" && strings.Contains(msg.Payload, `"name":"greenhouse"`) {
				json.Unmarshal([]byte(msg.Payload), &health)
			}
		}
		for _, s := range health.Sensors {
			if s.Name == "greenhouse" && s.Failing && healthy >= 10 {
				return true
			}
		}
		return false
	})
	var greenhouse []mosquittotest.Message
	for _, m := range msgs {
		if m.Topic == "Kai/sensors/greenhouse" {
			greenhouse = append(greenhouse, m)
		}
	}
	if len(greenhouse) != 1 || !strings.Contains(greenhouse[0].Payload, `"temperature_c":27.7`) || !strings.Contains(greenhouse[0].Payload, `"humidity_pct":82.5`) {
		t.Errorf("greenhouse readings = %v, want the datasheet example once", greenhouse)
	}
	for _, s := range health.Sensors {
		if s.Name == "greenhouse" && (s.LastSuccess.IsZero() || s.Errors == 0 || s.LastError == "") {
			t.Errorf("greenhouse status = %+v", s)
		}
	}
}
