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

// Spacing is the opened sensor's spacing; 0 until it is open.
func (l *lazy) Spacing() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sensor == nil {
		return 0
	}
	return spacingOf(l.sensor)
}
