package sht3x_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/edgepub/edgepub/sensors/sht3x"
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

	dev, err := sht3x.NewI2C(bus, sht3x.DefaultAddr, nil)
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	v, err := dev.Sense(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%.1f °C, %.1f %%RH\n", v["temperature_c"], v["humidity_pct"])
}
