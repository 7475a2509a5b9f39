package bustest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2ctest"
)

var errNACK = errors.New("remote I/O error")

// The doubles stand in for periph buses.
var (
	_ i2c.Bus = (*FailingBus)(nil)
	_ i2c.Bus = BrokenBus{}
	_ i2c.Bus = CancelAfterTx{}
)

func TestFailingBusReplaysThenFails(t *testing.T) {
	bus := &FailingBus{Playback: i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{{Addr: 0x44, W: []byte{0x89}, R: []byte{0x12}}}}, Err: errNACK}
	r := make([]byte, 1)
	if err := bus.Tx(0x44, []byte{0x89}, r); err != nil || r[0] != 0x12 {
		t.Fatalf("recorded transfer: % x, %v", r, err)
	}
	for range 2 {
		if err := bus.Tx(0x44, []byte{0x89}, r); !errors.Is(err, errNACK) {
			t.Fatalf("after the recording: %v, want the NACK", err)
		}
	}
	AllUsed(t, &bus.Playback)
}

func TestFailingBusStillChecksTheRecording(t *testing.T) {
	bus := &FailingBus{Playback: i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{{Addr: 0x44, W: []byte{0x89}}}}, Err: errNACK}
	if err := bus.Tx(0x44, []byte{0xFD}, nil); err == nil || errors.Is(err, errNACK) {
		t.Fatalf("a transfer that differs from the recording: %v, want the playback's refusal", err)
	}
}

func TestBrokenBus(t *testing.T) {
	bus := BrokenBus{Err: errNACK}
	if err := bus.Tx(0x23, []byte{0x00}, nil); !errors.Is(err, errNACK) {
		t.Errorf("Tx = %v, want the NACK", err)
	}
	if got := fmt.Sprint(bus); got != "broken" {
		t.Errorf("String() = %q, want broken", got)
	}
}

func TestCancelAfterTx(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	playback := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{{Addr: 0x48, W: []byte{0x01, 0xC3, 0x83}}}}
	bus := CancelAfterTx{Playback: playback, Cancel: cancel}
	if ctx.Err() != nil {
		t.Fatal("cancelled before any transfer")
	}
	if err := bus.Tx(0x48, []byte{0x01, 0xC3, 0x83}, nil); err != nil {
		t.Fatalf("Tx: %v", err)
	}
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Error("the context is still live after the transfer")
	}
	AllUsed(t, playback)
}

// recordingTB notes what AllUsed reports instead of failing the test.
type recordingTB struct {
	testing.TB
	errors []string
}

func (r *recordingTB) Helper() {}
func (r *recordingTB) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func TestAllUsed(t *testing.T) {
	op := i2ctest.IO{Addr: 0x44, W: []byte{0x94}}
	used := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{op}}
	if err := used.Tx(0x44, []byte{0x94}, nil); err != nil {
		t.Fatal(err)
	}
	var tb recordingTB
	AllUsed(&tb, used)
	if len(tb.errors) != 0 {
		t.Errorf("a fully used recording reported %q", tb.errors)
	}
	AllUsed(&tb, &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{op}})
	if len(tb.errors) != 1 {
		t.Errorf("an unused recording reported %q, want one error", tb.errors)
	}
}
