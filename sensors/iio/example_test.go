package iio_test

import (
	"context"
	"fmt"
	"log"

	"github.com/edgepub/edgepub/sensors/iio"
)

func Example() {
	// Needs a kernel driver loaded, e.g. dtoverlay=i2c-sensor,bme680, so it
	// is compiled but not run by go test.
	dir, err := iio.Find(iio.DefaultBus, "bme680")
	if err != nil {
		log.Fatal(err)
	}
	dev, err := iio.New(dir, &iio.Opts{Rename: map[string]string{"resistance_ohm": "gas_ohm"}})
	if err != nil {
		log.Fatal(err)
	}
	v, err := dev.Sense(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%.1f °C, %.0f Ω\n", v["temperature_c"], v["gas_ohm"])
}
