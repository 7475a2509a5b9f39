package bmxx80_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/edgepub/edgepub/sensors/bmxx80"
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

	dev, err := bmxx80.NewI2C(bus, bmxx80.DefaultAddr, nil)
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	v, err := dev.Sense(ctx)
	if err != nil {
		log.Fatal(err)
	}
	// humidity_pct is present on a BME280 only.
	fmt.Printf("%s: %.1f °C, %.1f hPa, %.1f %%RH\n", dev.Model(), v["temperature_c"], v["pressure_hpa"], v["humidity_pct"])
}
