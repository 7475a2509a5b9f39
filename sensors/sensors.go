// Package sensors defines what edgepub reads: a Sensor gives Values, the
// Runner turns them into timestamped Readings on a schedule, and a failing
// sensor never stops the others.
package sensors

import (
	"context"
	"errors"
	"fmt"
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

// WarmingUp is a warm-up error that says when the sensor expects its first
// measurement; errors.Is(err, ErrWarmingUp) holds for it. The Runner tries
// again after ReadyIn if that is sooner than its usual step, so that the
// first reading comes as soon as the chip has one.
type WarmingUp struct {
	// Reason says what the sensor waits for.
	Reason string
	// ReadyIn is how long after the error the sensor expects a value.
	ReadyIn time.Duration
}

func (e *WarmingUp) Error() string {
	return fmt.Sprintf("%s, %v from now: %v", e.Reason, e.ReadyIn.Round(time.Millisecond), ErrWarmingUp)
}

// Is makes errors.Is(err, ErrWarmingUp) hold.
func (e *WarmingUp) Is(target error) bool { return target == ErrWarmingUp }

// retryAfterWarmUp is how long to wait before reading again a sensor that
// reported err in its warm-up, when the usual wait is wait: no longer than
// the sensor says it needs.
func retryAfterWarmUp(err error, wait time.Duration) time.Duration {
	var wu *WarmingUp
	if errors.As(err, &wu) && wu.ReadyIn > 0 {
		return min(wait, wu.ReadyIn)
	}
	return wait
}

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
