package soc_test

import (
	"context"
	"fmt"
	"log"

	"github.com/edgepub/edgepub/sensors/soc"
)

func Example() {
	cpu, err := soc.New(nil) // thermal_zone0, the CPU on a Raspberry Pi
	if err != nil {
		log.Fatal(err)
	}
	v, err := cpu.Sense(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%.1f °C\n", v[soc.Field])
}
