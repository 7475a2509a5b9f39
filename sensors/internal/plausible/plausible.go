// Package plausible rejects readings a sensor cannot have measured: a value
// outside the range the datasheet rates the sensor for comes from a fault
// (a dead bus reading all ones, a corrupted reply that passed the checks),
// not from the air, so drivers report it as sensors.ErrImplausible instead
// of publishing it.
package plausible

import (
	"fmt"

	"github.com/edgepub/edgepub/sensors"
)

// Temperature returns an error wrapping sensors.ErrImplausible when celsius
// lies outside minCelsius..maxCelsius, the sensor's rated range. The error
// shows celsius with the given number of decimals, enough for the sensor's
// resolution.
func Temperature(celsius, minCelsius, maxCelsius float64, decimals int) error {
	if celsius < minCelsius || celsius > maxCelsius {
		return fmt.Errorf("temperature %.*f °C outside the sensor's range %g..%g °C: %w",
			decimals, celsius, minCelsius, maxCelsius, sensors.ErrImplausible)
	}
	return nil
}
