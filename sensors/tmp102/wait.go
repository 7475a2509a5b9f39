package tmp102

import (
	"context"
	"time"
)

// wait is the default Opts.Sleep: it gives up as soon as ctx is done so a
// cancelled read does not hold the bus for the rest of a conversion.
func wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
