package mhz19_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/edgepub/edgepub/sensors/mhz19"
)

func Example() {
	// Needs a sensor on the Pi's UART, so it is compiled but not run.
	dev, err := mhz19.Open("/dev/serial0", mhz19.Opts{ABC: mhz19.ABCOff})
	if err != nil {
		log.Fatal(err)
	}
	defer dev.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	v, err := dev.Sense(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%.0f ppm CO₂\n", v["co2_ppm"])
}
