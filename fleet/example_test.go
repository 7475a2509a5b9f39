package fleet_test

import (
	"fmt"

	"github.com/edgepub/edgepub/fleet"
)

// A console feeds every message of fleet.Topics to Handle and reads
// Snapshot; SettleAll counts gaps still waiting for a declaration.
func Example() {
	m := fleet.New(fleet.Opts{})
	m.Handle("Kai/status", []byte("online"), true)
	m.Handle("Kai/health", []byte(`{"device":"Kai","version":"1.0.0","seq_skipped":[{"first":3,"last":9,"reason":"the system rebooted or lost power since the last run"}]}`), true)
	for _, seq := range []int{1, 2, 10, 11, 13, 13} {
		m.Handle("Kai/sensors/bme280", fmt.Appendf(nil, `{"device":"Kai","sensor":"bme280","seq":%d}`, seq), false)
	}
	m.SettleAll()
	for _, d := range m.Snapshot() {
		fmt.Printf("%s online=%v missing=%d skipped=%d duplicates=%d alarming=%v\n", d.Device, d.Online, d.Missing, d.Skipped, d.Duplicates, d.Alarming())
	}
	// Output:
	// Kai online=true missing=1 skipped=7 duplicates=1 alarming=true
}
