package sensors

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrTimeout is returned when a read did not finish within its timeout.
var ErrTimeout = errors.New("read timed out")

// ErrStillHung is returned while an earlier read that timed out has still not
// returned: the bus is not touched again until it does.
var ErrStillHung = errors.New("an earlier read timed out and is still hung in the driver")

// hangGuard bounds a read by a timeout even when the driver blocks in a bus
// transfer that cannot be interrupted, and recovers a driver's panic into an
// error. A read that outlives its timeout keeps running in its goroutine;
// until it returns, no new read is started, so a wedged bus is not piled
// with more transfers. It is used by one goroutine at a time.
type hangGuard struct {
	sensor Sensor
	busy   chan struct{} // closed when the abandoned read returns; nil if none
}

type result struct {
	values Values
	err    error
}

// sense reads once; before, if set, runs on the reading goroutine just
// before Sense.
func (g *hangGuard) sense(ctx context.Context, timeout time.Duration, before func()) (Values, error) {
	if g.busy != nil {
		select {
		case <-g.busy:
			g.busy = nil
		default:
			return nil, ErrStillHung
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := make(chan struct{})
	res := make(chan result, 1)
	if before == nil {
		before = func() {}
	}
	go func() {
		defer close(done)
		defer func() {
			if p := recover(); p != nil {
				res <- result{err: fmt.Errorf("driver panicked: %v", p)}
			}
		}()
		before()
		v, err := g.sensor.Sense(ctx)
		res <- result{v, err}
	}()
	select {
	case r := <-res:
		return r.values, r.err
	case <-ctx.Done():
		select {
		case r := <-res: // finished just in time
			return r.values, r.err
		default:
		}
		g.busy = done
		if parent := context.Cause(ctx); errors.Is(parent, context.Canceled) {
			return nil, parent
		}
		return nil, fmt.Errorf("%w after %v", ErrTimeout, timeout)
	}
}
