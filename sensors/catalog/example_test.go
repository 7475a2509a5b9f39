package catalog_test

import (
	"context"
	"fmt"
	"log"

	"github.com/edgepub/edgepub/config"
	"github.com/edgepub/edgepub/sensors/catalog"
)

// Opening a configured sensor on the host's buses.
func ExampleOpen() {
	buses := catalog.NewHostBuses()
	defer buses.Close()
	spec := config.Sensor{Name: "room", Type: "bme280", Bus: "/dev/i2c-1", Address: 0x76}
	s, err := catalog.Open(context.Background(), spec, buses)
	if err != nil {
		log.Fatal(err)
	}
	v, err := s.Sense(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(v)
}

// Looking for devices and printing configuration to paste.
func ExampleScan() {
	buses := catalog.NewHostBuses()
	defer buses.Close()
	bus, err := buses.I2C("/dev/i2c-1")
	if err != nil {
		log.Fatal(err)
	}
	found, err := catalog.Scan(context.Background(), bus)
	if err != nil {
		log.Fatal(err)
	}
	probes, err := catalog.ListOneWire("")
	if err == nil {
		found = append(found, probes...)
	}
	fmt.Print(catalog.Snippet(found, "/dev/i2c-1"))
}

// The types a configuration can name, for a help text.
func ExampleTypes() {
	for _, t := range catalog.Types()[:3] {
		fmt.Printf("%-8s %s\n", t.Name, t.Bus)
	}
	// Output:
	// ads1015  i2c
	// ads1115  i2c
	// aht20    i2c
}
