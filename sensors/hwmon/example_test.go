package hwmon_test

import (
	"context"
	"fmt"
	"log"

	"github.com/edgepub/edgepub/sensors/hwmon"
)

func Example() {
	// Needs dtoverlay=i2c-sensor,sht3x, so it is compiled but not run.
	dir, err := hwmon.Find(hwmon.DefaultBus, "sht3x")
	if err != nil {
		log.Fatal(err)
	}
	dev, err := hwmon.New(dir)
	if err != nil {
		log.Fatal(err)
	}
	v, err := dev.Sense(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%.1f °C, %.1f %%RH\n", v["temperature_c"], v["humidity_pct"])
}
