package bustest

import (
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2ctest"
)

var (
	_ i2c.Bus = (*Timed)(nil)
	_ i2c.Bus = (*Holding)(nil)
)

func TestTimedNotesTheGapsBetweenTransfers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ops := []i2ctest.IO{{Addr: 0x44, W: []byte{0xFD}}, {Addr: 0x44, W: []byte{0xFD}}, {Addr: 0x44, W: []byte{0xFD}}, {Addr: 0x44, W: []byte{0xFD}}}
		playback := &i2ctest.Playback{DontPanic: true, Ops: ops}
		bus := &Timed{Bus: playback}
		for _, before := range []time.Duration{time.Second, 10 * time.Millisecond, 0, 3 * time.Millisecond} {
			time.Sleep(before) // the first gap, before any transfer, is not one
			if err := bus.Tx(0x44, []byte{0xFD}, nil); err != nil {
				t.Fatal(err)
			}
		}
		if want := []time.Duration{10 * time.Millisecond, 3 * time.Millisecond}; !slices.Equal(bus.Waits(), want) {
			t.Errorf("Waits() = %v, want %v", bus.Waits(), want)
		}
		time.Sleep(time.Millisecond)
		if got := bus.SinceLast(); got != time.Millisecond {
			t.Errorf("SinceLast() = %v, want 1ms", got)
		}
		if got := bus.String(); got != "playback" {
			t.Errorf("String() = %q, want the wrapped bus's name", got)
		}
		AllUsed(t, playback)
	})
}

func TestTimedCountsTheFirstGapFromFrom(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		playback := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{{Addr: 0x38, W: []byte{0xBA}}}}
		bus := &Timed{Bus: playback, Gaps: Gaps{From: time.Now()}}
		time.Sleep(40 * time.Millisecond)
		if err := bus.Tx(0x38, []byte{0xBA}, nil); err != nil {
			t.Fatal(err)
		}
		if want := []time.Duration{40 * time.Millisecond}; !slices.Equal(bus.Waits(), want) {
			t.Errorf("Waits() = %v, want %v", bus.Waits(), want)
		}
		AllUsed(t, playback)
	})
}

func TestHoldingHoldsOneTransfer(t *testing.T) {
	ops := []i2ctest.IO{{Addr: 0x44, W: []byte{0x89}}, {Addr: 0x44, W: []byte{0xFD}}, {Addr: 0x44, W: []byte{0x94}}}
	playback := &i2ctest.Playback{DontPanic: true, Ops: ops}
	bus := &Holding{Bus: playback, At: 1, Held: make(chan struct{}), Release: make(chan struct{})}
	if err := bus.Tx(0x44, []byte{0x89}, nil); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- bus.Tx(0x44, []byte{0xFD}, nil) }()
	<-bus.Held
	if playback.Count != 2 {
		t.Errorf("held before the transfer was replayed: count %d", playback.Count)
	}
	select {
	case err := <-done:
		t.Fatalf("transfer 1 returned (%v) before Release", err)
	default:
	}
	close(bus.Release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := bus.Tx(0x44, []byte{0x94}, nil); err != nil {
		t.Fatal(err)
	}
	AllUsed(t, playback)
}
