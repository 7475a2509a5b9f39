package sensirion

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/edgepub/edgepub/sensors/internal/bustest"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2ctest"
)

func TestEncodeWords(t *testing.T) {
	got := EncodeWords(0xBEEF, 0x1234)
	if want := []byte{0xBE, 0xEF, 0x92, 0x12, 0x34, 0x37}; !bytes.Equal(got, want) {
		t.Errorf("EncodeWords(0xBEEF, 0x1234) = % x, want % x", got, want)
	}
	if got := EncodeWords(); len(got) != 0 {
		t.Errorf("EncodeWords() = % x, want nothing", got)
	}
}

func TestDecodeWords(t *testing.T) {
	got, err := DecodeWords([]byte{0xBE, 0xEF, 0x92, 0x12, 0x34, 0x37})
	if err != nil || !slices.Equal(got, []uint16{0xBEEF, 0x1234}) {
		t.Errorf("DecodeWords = %#04x, %v; want [0xbeef 0x1234]", got, err)
	}
	_, err = DecodeWords([]byte{0xBE, 0xEF, 0x92, 0x12, 0x34, 0x38})
	if err == nil || err.Error() != "crc mismatch in word 1 (12 34 38): check the wiring and the bus speed" {
		t.Errorf("corrupted second word: %v", err)
	}
	if _, err := DecodeWords([]byte{0xBE, 0xEF, 0x92, 0x12}); err == nil || !strings.Contains(err.Error(), "4 bytes") {
		t.Errorf("a partial word: %v", err)
	}
}

// The waits are measured on synctest's clock, where the timer of
// pause.For fires exactly on time and at once.

func TestReadWords(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		playback := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
			{Addr: 0x62, W: []byte{0x36, 0x82}},
			{Addr: 0x62, R: EncodeWords(0xF896, 0x9F07, 0x3BB4)},
		}}
		bus := &bustest.Timed{Bus: playback}
		got, err := ReadWords(context.Background(), &i2c.Dev{Bus: bus, Addr: 0x62}, []byte{0x36, 0x82}, time.Millisecond, 3)
		if err != nil || !slices.Equal(got, []uint16{0xF896, 0x9F07, 0x3BB4}) {
			t.Errorf("ReadWords = %#04x, %v", got, err)
		}
		if !slices.Equal(bus.Waits(), []time.Duration{time.Millisecond}) {
			t.Errorf("waited %v between command and reply, want the 1ms execution time", bus.Waits())
		}
		bustest.AllUsed(t, playback)
	})
}

func TestReadWordsWithoutReply(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		playback := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{{Addr: 0x58, W: []byte{0x20, 0x03}}}}
		bus := &bustest.Timed{Bus: playback}
		got, err := ReadWords(context.Background(), &i2c.Dev{Bus: bus, Addr: 0x58}, []byte{0x20, 0x03}, 10*time.Millisecond, 0)
		if err != nil || got != nil {
			t.Errorf("ReadWords = %v, %v; want nothing read", got, err)
		}
		if w := bus.SinceLast(); w != 10*time.Millisecond {
			t.Errorf("returned %v after the command, want the 10ms execution time", w)
		}
		bustest.AllUsed(t, playback)
	})
}

func TestReadWordsStopsAtTheFirstFailure(t *testing.T) {
	cmd := i2ctest.IO{Addr: 0x44, W: []byte{0x89}}
	for _, tc := range []struct {
		name     string
		ops      []i2ctest.IO
		deadline time.Duration // 0 for none
		took     time.Duration
		target   error
		text     string
	}{
		// An empty playback refuses the command; nothing is waited for.
		{"command refused", nil, 0, 0, nil, "unexpected Tx"},
		// The deadline ends the 10 ms wait; the reply is never read.
		{"wait cut short", []i2ctest.IO{cmd}, 5 * time.Millisecond, 5 * time.Millisecond, context.DeadlineExceeded, "deadline exceeded"},
		{"reply refused", []i2ctest.IO{cmd}, 0, 10 * time.Millisecond, nil, "unexpected Tx"},
		{"corrupted reply", []i2ctest.IO{cmd, {Addr: 0x44, R: []byte{0x12, 0x34, 0x00, 0x56, 0x78, 0x7D}}}, 0, 10 * time.Millisecond, nil, "crc mismatch in word 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				if tc.deadline > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tc.deadline)
					defer cancel()
				}
				bus := &i2ctest.Playback{DontPanic: true, Ops: tc.ops}
				start := time.Now()
				got, err := ReadWords(ctx, &i2c.Dev{Bus: bus, Addr: 0x44}, []byte{0x89}, 10*time.Millisecond, 2)
				if err == nil || got != nil || !strings.Contains(err.Error(), tc.text) || (tc.target != nil && !errors.Is(err, tc.target)) {
					t.Fatalf("ReadWords = %v, %v; want an error containing %q", got, err, tc.text)
				}
				if took := time.Since(start); took != tc.took {
					t.Errorf("ReadWords returned after %v, want %v", took, tc.took)
				}
				bustest.AllUsed(t, bus)
			})
		})
	}
}
