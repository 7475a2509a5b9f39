package sim_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/edgepub/edgepub/sensors/sim"
)

func Example() {
	// A clock the example moves by hand; a daemon leaves Now nil.
	now := time.Date(2026, 6, 1, 5, 0, 0, 0, time.UTC)
	opts := &sim.Opts{Seed: 1, Now: func() time.Time { return now }}
	room := sim.NewBME280(opts)
	soc := sim.NewSoC(opts)

	for range 3 {
		v, err := room.Sense(context.Background())
		if err != nil {
			log.Fatal(err)
		}
		s, err := soc.Sense(context.Background())
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s  %.2f °C  %.1f %%  %.2f hPa  SoC %.1f °C\n", now.Format("15:04"),
			v["temperature_c"], v["humidity_pct"], v["pressure_hpa"], s["soc_temperature_c"])
		now = now.Add(5 * time.Hour)
	}
	// Output:
	// 05:00  18.75 °C  52.0 %  1016.77 hPa  SoC 46.4 °C
	// 10:00  21.01 °C  55.2 %  1015.20 hPa  SoC 49.1 °C
	// 15:00  23.67 °C  50.3 %  1010.22 hPa  SoC 50.0 °C
}
