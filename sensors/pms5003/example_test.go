package pms5003_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/edgepub/edgepub/sensors/pms5003"
)

func Example() {
	// Needs a sensor on the Pi's UART, so it is compiled but not run.
	dev, err := pms5003.Open("/dev/serial0", nil)
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
	fmt.Printf("PM2.5 %.0f µg/m³\n", v["pm2_5_ugm3"])
}
