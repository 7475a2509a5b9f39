package mcp3008_test

import (
	"context"
	"fmt"
	"log"

	"github.com/edgepub/edgepub/sensors/mcp3008"
	"periph.io/x/conn/v3/spi/spireg"
	"periph.io/x/host/v3"
)

func Example() {
	// Needs real hardware, so it is compiled but not run by go test.
	if _, err := host.Init(); err != nil {
		log.Fatal(err)
	}
	p, err := spireg.Open("/dev/spidev0.0")
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	dev, err := mcp3008.NewSPI(p, &mcp3008.Opts{VRef: 3.3, Channels: []mcp3008.Channel{{Input: 0, Field: "soil_pct", Scale: -50, Offset: 150}}})
	if err != nil {
		log.Fatal(err)
	}
	v, err := dev.Sense(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("soil moisture %.0f %%\n", v["soil_pct"])
}
