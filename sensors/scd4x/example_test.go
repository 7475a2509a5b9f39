package scd4x_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/edgepub/edgepub/sensors/scd4x"
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
	ctx := context.Background()
	co2, err := scd4x.NewI2C(ctx, bus, scd4x.Addr, &scd4x.Opts{AltitudeM: 350})
	if err != nil {
		log.Fatal(err)
	}
	defer co2.Halt()
	// The first measurement is ready 5 s after the start.
	readCtx, cancel := context.WithTimeout(ctx, 6*time.Second)
	defer cancel()
	v, err := co2.Sense(readCtx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%.0f ppm, %.1f °C, %.0f %%\n", v[scd4x.FieldCO2], v[scd4x.FieldTemperature], v[scd4x.FieldHumidity])
}
