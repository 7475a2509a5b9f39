package mhz19

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/edgepub/edgepub/sensors"
	"github.com/edgepub/edgepub/sensors/internal/uart"
	"github.com/edgepub/edgepub/sensors/internal/uart/uarttest"
)

// The datasheet's example answer to command 0x86: FF 86 02 60 47 00 00 00 D1
// is 0x02×256 + 0x60 = 608 ppm. Commands and checksums are the datasheet's
// too: read FF 01 86 00 00 00 00 00 79, ABC on FF 01 79 A0 … E6, ABC off
// FF 01 79 00 … 86.
var (
	read      = []byte{0xFF, 0x01, 0x86, 0x00, 0x00, 0x00, 0x00, 0x00, 0x79}
	abcOn     = []byte{0xFF, 0x01, 0x79, 0xA0, 0x00, 0x00, 0x00, 0x00, 0xE6}
	abcOff    = []byte{0xFF, 0x01, 0x79, 0x00, 0x00, 0x00, 0x00, 0x00, 0x86}
	answer608 = []byte{0xFF, 0x86, 0x02, 0x60, 0x47, 0x00, 0x00, 0x00, 0xD1}
)

func TestChecksumMatchesDatasheet(t *testing.T) {
	for _, b := range [][]byte{read, abcOn, abcOff, answer608} {
		if got := Checksum(b); got != b[8] {
			t.Errorf("Checksum(% x) = %#02x, want %#02x", b, got, b[8])
		}
	}
}

// replyWait bounds a read the played device answers: generous, because a
// busy machine can delay the pseudo-terminal, and a passing test never
// waits it out.
const replyWait = 5 * time.Second

// open opens the played device with its preheat already over: the time it
// started is moved back by WarmUp. The tests run on the real clock because
// the line's wait is timed by time.Now around reads from a
// pseudo-terminal, which in a synctest bubble would never see time pass.
func open(t *testing.T, abc ABC, wait time.Duration, steps ...uarttest.Step) (*Dev, *uarttest.Device) {
	t.Helper()
	setup := abcOn
	if abc == ABCOff {
		setup = abcOff
	}
	dev := uarttest.New(t, append([]uarttest.Step{{Expect: setup}}, steps...)...)
	d := openOn(t, dev, Opts{ABC: abc, Wait: wait})
	d.mu.Lock()
	d.started = d.started.Add(-WarmUp)
	d.mu.Unlock()
	return d, dev
}

func openOn(t *testing.T, dev *uarttest.Device, opts Opts) *Dev {
	t.Helper()
	d, err := Open(dev.Path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestSenseDatasheetExample(t *testing.T) {
	for _, abc := range []ABC{ABCOn, ABCOff} {
		d, dev := open(t, abc, replyWait, uarttest.Step{Expect: read, Reply: answer608})
		v, err := d.Sense(context.Background())
		if err != nil || len(v) != 1 || v["co2_ppm"] != 608 {
			t.Fatalf("Sense() = %v, %v; want co2_ppm 608", v, err)
		}
		want := slices.Concat(abcOn, read)
		if abc == ABCOff {
			want = slices.Concat(abcOff, read)
		}
		if got := dev.Received(); !bytes.Equal(got, want) {
			t.Errorf("sent % x, want % x", got, want)
		}
	}
}

func TestABCMustBeChosen(t *testing.T) {
	if _, err := Open("/dev/null", Opts{}); err == nil || !strings.Contains(err.Error(), "abc is not set") {
		t.Fatalf("Open without ABC = %v, want a refusal", err)
	}
}

func TestResyncAndChecksum(t *testing.T) {
	t.Run("garbage first", func(t *testing.T) {
		junk := []byte{0x86, 0xFF, 0x00, 0xFF, 0x86, 0x01} // a stray header, cut short
		d, _ := open(t, ABCOff, replyWait, uarttest.Step{Expect: read, Reply: slices.Concat(junk, answer608)})
		if v, err := d.Sense(context.Background()); err != nil || v["co2_ppm"] != 608 {
			t.Fatalf("Sense() = %v, %v; want 608 after the garbage", v, err)
		}
	})
	t.Run("bad checksum", func(t *testing.T) {
		bad := slices.Clone(answer608)
		bad[3] = 0x61
		d, _ := open(t, ABCOff, replyWait, uarttest.Step{Expect: read, Reply: bad})
		if _, err := d.Sense(context.Background()); !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), "want 0xd0") {
			t.Fatalf("Sense error = %v, want ErrChecksum", err)
		}
	})
}

func TestSilentAndUnplugged(t *testing.T) {
	t.Run("silent", func(t *testing.T) {
		d, _ := open(t, ABCOn, 150*time.Millisecond, uarttest.Step{Expect: read})
		if _, err := d.Sense(context.Background()); !errors.Is(err, uart.ErrNoReply) || !strings.Contains(err.Error(), "TX and RX") {
			t.Fatalf("Sense error = %v, want ErrNoReply with a wiring hint", err)
		}
	})
	t.Run("unplugged", func(t *testing.T) {
		d, dev := open(t, ABCOn, replyWait)
		for !bytes.Equal(dev.Received(), abcOn) {
			time.Sleep(time.Millisecond)
		}
		dev.Unplug()
		if _, err := d.Sense(context.Background()); err == nil || !strings.Contains(err.Error(), "unplugged") {
			t.Fatalf("Sense error = %v, want a line failure", err)
		}
	})
}

func TestPreheat(t *testing.T) {
	// Datasheet: preheat time 3 min. An answer in it proves the line
	// works but is not published. The device is played outside the
	// synctest bubble, whose clock then moves only by the test's sleeps:
	// each exchange is answered at once, so no wait on the line has to run
	// out. Should the device fall silent, the context, made outside the
	// bubble on the real clock, ends the read.
	dev := uarttest.New(t, uarttest.Step{Expect: abcOff},
		uarttest.Step{Expect: read, Reply: answer608},
		uarttest.Step{Expect: read, Reply: answer608})
	line, cancel := context.WithTimeout(context.Background(), replyWait)
	defer cancel()
	synctest.Test(t, func(t *testing.T) {
		d := openOn(t, dev, Opts{ABC: ABCOff, Wait: replyWait})
		time.Sleep(WarmUp - time.Millisecond)
		if v, err := d.Sense(line); !errors.Is(err, sensors.ErrWarmingUp) {
			t.Fatalf("Sense at 2:59.999 = %v, %v; want ErrWarmingUp", v, err)
		}
		time.Sleep(time.Millisecond)
		if v, err := d.Sense(line); err != nil || v["co2_ppm"] != 608 {
			t.Fatalf("Sense at 3:00 = %v, %v; want co2_ppm 608", v, err)
		}
	})
}
