package sensors_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"

	"periph.io/x/conn/v3/i2c/i2ctest"

	"github.com/edgepub/edgepub/sensors"
	"github.com/edgepub/edgepub/sensors/internal/bustest"
	"github.com/edgepub/edgepub/sensors/internal/sensirion"
	"github.com/edgepub/edgepub/sensors/scd4x"
)

// An SCD4x that was absent at start and opened later is halted on exit:
// it would otherwise keep measuring (and heating) on its own. Command codes
// from the command table of Sensirion's SCD4x datasheet:
// stop_periodic_measurement 0x3f86, get_serial_number 0x3682,
// start_periodic_measurement 0x21b1, get_data_ready_status 0xe4b8,
// read_measurement 0xec05; the serial number and the measurement (500 ppm,
// 25 °C, 37 %RH) are the datasheet's examples.
func TestLazyHaltsTheSensorItOpened(t *testing.T) {
	// In a bubble, the driver's 500 ms after stop_periodic_measurement
	// passes at once.
	synctest.Test(t, func(t *testing.T) {
		a := uint16(scd4x.Addr)
		bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
			{Addr: a, W: []byte{0x3f, 0x86}},
			{Addr: a, W: []byte{0x36, 0x82}},
			{Addr: a, R: sensirion.EncodeWords(0xf896, 0x9f07, 0x3bb4)},
			{Addr: a, W: []byte{0x21, 0xb1}},
			{Addr: a, W: []byte{0xe4, 0xb8}},
			{Addr: a, R: sensirion.EncodeWords(0x8006)},
			{Addr: a, W: []byte{0xec, 0x05}},
			{Addr: a, R: sensirion.EncodeWords(0x01f4, 0x6667, 0x5eb9)},
			{Addr: a, W: []byte{0x3f, 0x86}}, // the halt on exit
		}}
		present := false
		s := sensors.Lazy(func(ctx context.Context) (sensors.Sensor, error) {
			if !present {
				return nil, errors.New("no device at 0x62 on I2C1")
			}
			return scd4x.NewI2C(ctx, bus, scd4x.Addr, nil)
		})
		halter, ok := s.(interface{ Halt() error })
		if !ok {
			t.Fatal("a lazy sensor cannot be halted")
		}
		ctx := context.Background()
		if _, err := s.Sense(ctx); err == nil {
			t.Fatal("Sense of an absent sensor succeeded")
		}
		if err := halter.Halt(); err != nil {
			t.Fatalf("Halt before the sensor was opened: %v", err)
		}
		present = true
		v, err := s.Sense(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if v[scd4x.FieldCO2] != 500 {
			t.Errorf("got %v, want the datasheet's 500 ppm", v)
		}
		if err := halter.Halt(); err != nil {
			t.Fatal(err)
		}
		bustest.AllUsed(t, bus)
	})
}
