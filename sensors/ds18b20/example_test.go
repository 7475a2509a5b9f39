package ds18b20_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/edgepub/edgepub/sensors/ds18b20"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/devices/v3/ds248x"
	"periph.io/x/host/v3"
)

// A probe on a Raspberry Pi's w1-gpio bus, read through the kernel.
func ExampleNewSysfs() {
	roms, err := ds18b20.DiscoverSysfs("")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("thermometers:", roms)

	probe, err := ds18b20.NewSysfs("28-0316a2799bff", nil)
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	v, err := probe.Sense(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%.2f °C\n", v[ds18b20.Field])
}

// A probe behind a DS2482 I²C-to-1-Wire bridge at 0x18 on /dev/i2c-1.
func ExampleNewOneWire() {
	if _, err := host.Init(); err != nil {
		log.Fatal(err)
	}
	bus, err := i2creg.Open("/dev/i2c-1")
	if err != nil {
		log.Fatal(err)
	}
	defer bus.Close()
	bridge, err := ds248x.New(bus, 0x18, &ds248x.DefaultOpts)
	if err != nil {
		log.Fatal(err)
	}
	probe, err := ds18b20.NewOneWire(bridge, "28-0316a2799bff", &ds18b20.Opts{Resolution: 11})
	if err != nil {
		log.Fatal(err)
	}
	v, err := probe.Sense(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%.2f °C\n", v[ds18b20.Field])
}
