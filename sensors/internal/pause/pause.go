// Package pause is how drivers wait while a chip converts or executes a
// command: for a fixed time, but never past the caller's context, so that a
// cancelled read stops holding the bus at once.
package pause

import (
	"context"
	"time"
)

// For waits for d, or returns ctx.Err() as soon as ctx is done. Drivers
// call it for every wait; their tests run in a synctest bubble, where its
// timer fires on the bubble's fake clock exactly on time and at once.
func For(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
