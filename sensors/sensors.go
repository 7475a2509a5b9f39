// Package sensors defines what edgepub reads: a Sensor gives Values, the
// Runner turns them into timestamped Readings on a schedule, and a failing
// sensor never stops the others.
package sensors

import (
	"context"
	"errors"
	"time"
)

// Values maps a field name that carries its unit, such as "temperature_c" or
// "pressure_hpa", to the measured value. The names go into the payload as they
// are, so they are chosen once per quantity and never changed.
type Values map[string]float64

// Reading is what one sensor measured at one moment.
type Reading struct {
	// Sensor is the configured name of the sensor, not its type.
	Sensor string
	// Time is when the sensor was read.
	Time time.Time
	// SinceBoot is CLOCK_BOOTTIME when the sensor was read: it repairs Time
	// if the wall clock turns out to have been wrong. 0 if unknown.
	SinceBoot time.Duration
	// Values are the measured quantities.
	Values Values
}

// Sensor is a device that can be read. Sense must honour ctx where the bus
// allows it; the Runner also bounds every call with a timeout of its own,
// because most buses cannot be interrupted.
type Sensor interface {
	Sense(ctx context.Context) (Values, error)
}

// ErrImplausible marks a value the device returned but that cannot be a real
// measurement, such as a DS18B20's 85 °C power-on value. Drivers wrap it so
// the Runner counts the read as failed instead of publishing it.
var ErrImplausible = errors.New("implausible value")

// ErrWarmingUp marks a read in a sensor's warm-up after start, before the
// chip has a valid measurement (an SCD4x's first 5 s, an SGP30's first
// 15 s). Drivers wrap it; the Runner tries again soon, publishes nothing and
// counts no failure.
var ErrWarmingUp = errors.New("warming up")

// Spaced is a Sensor that needs time between two reads, because the chip
// measures on its own schedule or its datasheet forbids faster reads. The
// Runner spaces the samples of one reading, and its retries, by at least
// Spacing.
type Spaced interface {
	Spacing() time.Duration
}

// spacingOf is s's spacing, or 0 if it needs none.
func spacingOf(s Sensor) time.Duration {
	if sp, ok := s.(Spaced); ok {
		return sp.Spacing()
	}
	return 0
}
