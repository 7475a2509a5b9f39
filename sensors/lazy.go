package sensors

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Opener opens a sensor: it probes the bus and the device.
type Opener func(ctx context.Context) (Sensor, error)

// Lazy returns a Sensor that opens itself on first use and, as long as
// opening fails, tries again on every read. A sensor that was unplugged at
// start is thus picked up when it appears, without a restart, and its
// failure shows in the Runner's status like any failed read.
func Lazy(open Opener) Sensor { return &lazy{open: open} }

type lazy struct {
	open Opener

	mu     sync.Mutex
	sensor Sensor
}

func (l *lazy) Sense(ctx context.Context) (Values, error) {
	l.mu.Lock()
	s := l.sensor
	if s == nil {
		var err error
		if s, err = l.open(ctx); err != nil {
			l.mu.Unlock()
			return nil, fmt.Errorf("open: %w", err)
		}
		l.sensor = s
	}
	l.mu.Unlock()
	return s.Sense(ctx)
}

// Halt halts the opened sensor if it can be halted (an SCD4x measuring on
// its own), so that a sensor that appeared after the start is stopped on
// exit like the others. Before the sensor was opened there is nothing to
// halt.
func (l *lazy) Halt() error {
	l.mu.Lock()
	s := l.sensor
	l.mu.Unlock()
	if h, ok := s.(interface{ Halt() error }); ok {
		return h.Halt()
	}
	return nil
}

// Spacing is the opened sensor's spacing; 0 until it is open.
func (l *lazy) Spacing() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sensor == nil {
		return 0
	}
	return spacingOf(l.sensor)
}
