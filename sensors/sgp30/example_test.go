package sgp30_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/edgepub/edgepub/sensors"
	"github.com/edgepub/edgepub/sensors/sgp30"
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
	air, err := sgp30.NewI2C(ctx, bus, sgp30.Addr, nil)
	if err != nil {
		log.Fatal(err)
	}
	// One measurement a second keeps the sensor's baseline algorithm right.
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for range 30 {
		<-tick.C
		v, err := air.Sense(ctx)
		if errors.Is(err, sensors.ErrImplausible) {
			continue // warming up
		}
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%.0f ppb TVOC, %.0f ppm eCO2\n", v[sgp30.FieldTVOC], v[sgp30.FieldECO2])
	}
}
