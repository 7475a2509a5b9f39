package tsl2591_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/edgepub/edgepub/sensors/tsl2591"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/host/v3"
)

func Example() {
	// Needs real hardware, so it is compiled but not run by go test.
	if _, err := host.Init(); err != nil {
		log.Fatal(err)
	}
	bus, err := i2creg.Open("/dev/i2c-1")
	if err != nil {
		log.Fatal(err)
	}
	defer bus.Close()

	dev, err := tsl2591.NewI2C(bus, tsl2591.Addr, nil)
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	v, err := dev.Sense(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%.1f lx\n", v["illuminance_lux"])
}
