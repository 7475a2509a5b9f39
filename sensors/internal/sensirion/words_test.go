package sensirion

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

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

// recorder is a sleep that notes each wait and then returns err.
type recorder struct {
	waits []time.Duration
	err   error
}

func (r *recorder) sleep(ctx context.Context, d time.Duration) error {
	r.waits = append(r.waits, d)
	if r.err != nil {
		return r.err
	}
	return ctx.Err()
}

func TestReadWords(t *testing.T) {
	bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
		{Addr: 0x62, W: []byte{0x36, 0x82}},
		{Addr: 0x62, R: EncodeWords(0xF896, 0x9F07, 0x3BB4)},
	}}
	var r recorder
	got, err := ReadWords(context.Background(), &i2c.Dev{Bus: bus, Addr: 0x62}, r.sleep, []byte{0x36, 0x82}, time.Millisecond, 3)
	if err != nil || !slices.Equal(got, []uint16{0xF896, 0x9F07, 0x3BB4}) {
		t.Errorf("ReadWords = %#04x, %v", got, err)
	}
	if !slices.Equal(r.waits, []time.Duration{time.Millisecond}) {
		t.Errorf("waited %v, want the 1ms execution time", r.waits)
	}
	if err := bus.Close(); err != nil {
		t.Errorf("not every recorded transfer happened: %v", err)
	}
}

func TestReadWordsWithoutReply(t *testing.T) {
	bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{{Addr: 0x58, W: []byte{0x20, 0x03}}}}
	var r recorder
	got, err := ReadWords(context.Background(), &i2c.Dev{Bus: bus, Addr: 0x58}, r.sleep, []byte{0x20, 0x03}, 10*time.Millisecond, 0)
	if err != nil || got != nil {
		t.Errorf("ReadWords = %v, %v; want nothing read", got, err)
	}
	if !slices.Equal(r.waits, []time.Duration{10 * time.Millisecond}) {
		t.Errorf("waited %v, want the 10ms execution time", r.waits)
	}
	if err := bus.Close(); err != nil {
		t.Errorf("not every recorded transfer happened: %v", err)
	}
}

func TestReadWordsStopsAtTheFirstFailure(t *testing.T) {
	errExpired := errors.New("expired")
	cmd := i2ctest.IO{Addr: 0x44, W: []byte{0x89}}
	for _, tc := range []struct {
		name   string
		ops    []i2ctest.IO
		sleep  error
		waits  int
		target error
		text   string
	}{
		// An empty playback refuses the command; nothing is waited for.
		{"command refused", nil, nil, 0, nil, "unexpected Tx"},
		// The reply is never read.
		{"wait cut short", []i2ctest.IO{cmd}, errExpired, 1, errExpired, "expired"},
		{"reply refused", []i2ctest.IO{cmd}, nil, 1, nil, "unexpected Tx"},
		{"corrupted reply", []i2ctest.IO{cmd, {Addr: 0x44, R: []byte{0x12, 0x34, 0x00, 0x56, 0x78, 0x7D}}}, nil, 1, nil, "crc mismatch in word 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bus := &i2ctest.Playback{DontPanic: true, Ops: tc.ops}
			r := recorder{err: tc.sleep}
			got, err := ReadWords(context.Background(), &i2c.Dev{Bus: bus, Addr: 0x44}, r.sleep, []byte{0x89}, 10*time.Millisecond, 2)
			if err == nil || got != nil || !strings.Contains(err.Error(), tc.text) || (tc.target != nil && !errors.Is(err, tc.target)) {
				t.Fatalf("ReadWords = %v, %v; want an error containing %q", got, err, tc.text)
			}
			if len(r.waits) != tc.waits {
				t.Errorf("waited %v, want %d waits", r.waits, tc.waits)
			}
			if err := bus.Close(); err != nil {
				t.Errorf("not every recorded transfer happened: %v", err)
			}
		})
	}
}
