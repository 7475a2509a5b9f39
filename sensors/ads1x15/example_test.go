package ads1x15_test

import (
	"context"
	"fmt"
	"log"

	"github.com/edgepub/edgepub/sensors/ads1x15"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/host/v3"
)

// A 0..3.3 V humidity transmitter on AIN0 and a 2:1 battery divider on AIN1.
func Example() {
	if _, err := host.Init(); err != nil {
		log.Fatal(err)
	}
	bus, err := i2creg.Open("/dev/i2c-1")
	if err != nil {
		log.Fatal(err)
	}
	defer bus.Close()
	adc, err := ads1x15.NewADS1115(bus, 0x48, &ads1x15.Opts{Channels: []ads1x15.Channel{
		{Input: 0, Field: "humidity_pct", Gain: 1, Scale: 100 / 3.3},
		{Input: 1, Field: "battery_v", Gain: 1, Scale: 2},
	}})
	if err != nil {
		log.Fatal(err)
	}
	v, err := adc.Sense(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%.1f %%, %.2f V\n", v["humidity_pct"], v["battery_v"])
}
