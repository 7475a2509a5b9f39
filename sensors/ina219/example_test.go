package ina219_test

import (
	"context"
	"fmt"
	"log"

	"github.com/edgepub/edgepub/sensors/ina219"
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
	// A 0.1 Ω shunt and at most 1 A: the ±160 mV range.
	monitor, err := ina219.NewI2C(bus, 0x40, &ina219.Opts{ShuntOhms: 0.1, MaxCurrentA: 1})
	if err != nil {
		log.Fatal(err)
	}
	v, err := monitor.Sense(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%.2f V %.3f A %.2f W\n", v[ina219.FieldVoltage], v[ina219.FieldCurrent], v[ina219.FieldPower])
}
