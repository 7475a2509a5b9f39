package bh1750_test

import (
	"context"
	"fmt"
	"log"

	"github.com/edgepub/edgepub/sensors/bh1750"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/host/v3"
)

func Example() {
	if _, err := host.Init(); err != nil {
		log.Fatal(err)
	}
	bus, err := i2creg.Open("/dev/i2c-1")
	if err != nil {
		log.Fatal(err)
	}
	defer bus.Close()
	light, err := bh1750.NewI2C(bus, bh1750.AddrLow, nil)
	if err != nil {
		log.Fatal(err)
	}
	v, err := light.Sense(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%.0f lx\n", v[bh1750.Field])
}
