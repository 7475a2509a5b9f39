package bustest

import (
	"context"
	"testing"

	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"
)

// FailingBus replays its ops and then fails every further transaction with
// Err, like a sensor that stopped acknowledging.
type FailingBus struct {
	i2ctest.Playback
	Err error
}

// Tx replays the next recorded transaction or, once all are used, fails
// with Err.
func (b *FailingBus) Tx(addr uint16, w, r []byte) error {
	b.Lock()
	exhausted := b.Count >= len(b.Ops)
	b.Unlock()
	if exhausted {
		return b.Err
	}
	return b.Playback.Tx(addr, w, r)
}

// BrokenBus fails every transfer with Err, as a bus whose device does not
// acknowledge. It calls itself "broken", which the drivers' errors name.
type BrokenBus struct{ Err error }

// String names the bus in the drivers' errors.
func (b BrokenBus) String() string { return "broken" }

// Tx fails with Err.
func (b BrokenBus) Tx(uint16, []byte, []byte) error { return b.Err }

// SetSpeed accepts any speed.
func (b BrokenBus) SetSpeed(physic.Frequency) error { return nil }

// CancelAfterTx passes every transfer to Playback and then calls Cancel: a
// context that ends once the driver has set the chip working, so the
// driver's own wait is what must notice.
type CancelAfterTx struct {
	*i2ctest.Playback
	Cancel context.CancelFunc
}

// Tx replays the transfer, then cancels.
func (b CancelAfterTx) Tx(addr uint16, w, r []byte) error {
	defer b.Cancel()
	return b.Playback.Tx(addr, w, r)
}

// AllUsed fails t unless every recorded transfer of bus happened; periph's
// playbacks report that from Close.
func AllUsed(t testing.TB, bus interface{ Close() error }) {
	t.Helper()
	if err := bus.Close(); err != nil {
		t.Errorf("not every recorded transfer happened: %v", err)
	}
}
