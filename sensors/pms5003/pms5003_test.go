package pms5003

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

// Frames built by hand from the datasheet's appendix I layout: start
// characters 0x42 0x4D, frame length 28, data 1..3 (CF=1) 6, 9, 11 µg/m³,
// data 4..6 (atmospheric environment) 5, 8, 10 µg/m³, particle counts 1000,
// 300, 50, 5, 1, 0 per 0.1 L, data 13 (reserved) 0x9700, and the check code,
// the sum of every byte before it: 171 (header) + 49 (data 1..6) + 336
// (counts) + 151 (reserved) = 707 = 0x02C3.
var frame = []byte{
	0x42, 0x4D, 0x00, 0x1C,
	0x00, 0x06, 0x00, 0x09, 0x00, 0x0B,
	0x00, 0x05, 0x00, 0x08, 0x00, 0x0A,
	0x03, 0xE8, 0x01, 0x2C, 0x00, 0x32, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00,
	0x97, 0x00,
	0x02, 0xC3,
}

// Host commands from appendix II, and the sensor's 8-byte answer to the
// mode change (length 4, command 0xE1, sum 0x0174).
var (
	passiveMode   = []byte{0x42, 0x4D, 0xE1, 0x00, 0x00, 0x01, 0x70}
	passiveRead   = []byte{0x42, 0x4D, 0xE2, 0x00, 0x00, 0x01, 0x71}
	passiveAnswer = []byte{0x42, 0x4D, 0x00, 0x04, 0xE1, 0x00, 0x01, 0x74}
)

// replyWait bounds a read the played device answers: generous, because a
// busy machine can delay the pseudo-terminal, and a passing test never
// waits it out.
const replyWait = 5 * time.Second

// open opens the played device with its warm-up already over: the time
// it started is moved back by WarmUp. The tests run on the real clock
// because the line's wait is timed by time.Now around reads from a
// pseudo-terminal, which in a synctest bubble would never see time pass.
func open(t *testing.T, wait time.Duration, steps ...uarttest.Step) (*Dev, *uarttest.Device) {
	t.Helper()
	dev := playedDevice(t, steps...)
	d := openOn(t, dev, wait)
	d.mu.Lock()
	d.started = d.started.Add(-WarmUp)
	d.mu.Unlock()
	return d, dev
}

// playedDevice is a pseudo-terminal that expects the passive-mode command
// and then plays steps. The sensor's answer to the mode command is left
// out: a real one is long dropped as stale input when the first read
// comes, a played one would still be on the way.
// TestSenseResyncsAfterGarbage plays it.
func playedDevice(t *testing.T, steps ...uarttest.Step) *uarttest.Device {
	t.Helper()
	return uarttest.New(t, append([]uarttest.Step{{Expect: passiveMode}}, steps...)...)
}

func openOn(t *testing.T, dev *uarttest.Device, wait time.Duration) *Dev {
	t.Helper()
	d, err := Open(dev.Path, &Opts{Wait: wait})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestWarmUp(t *testing.T) {
	// Appendix I, note 1: stable data at least 30 s after wake-up. A frame
	// read in those 30 s proves the line works but is not published. The
	// device is played outside the synctest bubble, whose clock then moves
	// only by the test's sleeps: each exchange is answered at once, so no
	// wait on the line has to run out. Should the device fall silent, the
	// context, made outside the bubble on the real clock, ends the read.
	dev := playedDevice(t,
		uarttest.Step{Expect: passiveRead, Reply: frame},
		uarttest.Step{Expect: passiveRead, Reply: frame})
	line, cancel := context.WithTimeout(context.Background(), replyWait)
	defer cancel()
	synctest.Test(t, func(t *testing.T) {
		d := openOn(t, dev, replyWait)
		time.Sleep(WarmUp - time.Millisecond)
		if v, err := d.Sense(line); !errors.Is(err, sensors.ErrWarmingUp) {
			t.Fatalf("Sense at 29.999 s = %v, %v; want ErrWarmingUp", v, err)
		}
		time.Sleep(time.Millisecond)
		if v, err := d.Sense(line); err != nil || v["pm10_ugm3"] != 10 {
			t.Fatalf("Sense at 30 s = %v, %v; want the frame's values", v, err)
		}
	})
}

func TestSenseReadsAtmosphericValues(t *testing.T) {
	d, dev := open(t, replyWait, uarttest.Step{Expect: passiveRead, Reply: frame})
	v, err := d.Sense(context.Background())
	if err != nil {
		t.Fatalf("Sense: %v", err)
	}
	want := map[string]float64{"pm1_0_ugm3": 5, "pm2_5_ugm3": 8, "pm10_ugm3": 10}
	if len(v) != 3 || v["pm1_0_ugm3"] != 5 || v["pm2_5_ugm3"] != 8 || v["pm10_ugm3"] != 10 {
		t.Errorf("Sense() = %v, want %v", v, want)
	}
	if got := dev.Received(); !bytes.Equal(got, slices.Concat(passiveMode, passiveRead)) {
		t.Errorf("sent % x, want passive mode then one passive read", got)
	}
}

func TestSenseResyncsAfterGarbage(t *testing.T) {
	// Line noise, the mode answer and half a frame cut off by a reset come
	// before the real frame.
	junk := slices.Concat([]byte{0x00, 0xFF, 0x42, 0x13, 0x42}, passiveAnswer, frame[:17])
	d, _ := open(t, replyWait, uarttest.Step{Expect: passiveRead, Reply: slices.Concat(junk, frame)})
	v, err := d.Sense(context.Background())
	if err != nil || v["pm2_5_ugm3"] != 8 {
		t.Fatalf("Sense() = %v, %v; want pm2_5_ugm3 8 from the frame after the garbage", v, err)
	}
}

func TestSenseRejectsChecksum(t *testing.T) {
	bad := slices.Clone(frame)
	bad[13] = 0x09 // PM2.5 9 instead of 8: the sum no longer matches.
	d, _ := open(t, replyWait, uarttest.Step{Expect: passiveRead, Reply: bad})
	_, err := d.Sense(context.Background())
	if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), "0x02c3") || !strings.Contains(err.Error(), "0x02c4") {
		t.Fatalf("Sense error = %v, want ErrChecksum with both sums", err)
	}
}

func TestSilentSensorTimesOut(t *testing.T) {
	d, _ := open(t, 200*time.Millisecond, uarttest.Step{Expect: passiveRead})
	start := time.Now()
	_, err := d.Sense(context.Background())
	if !errors.Is(err, uart.ErrNoReply) || !strings.Contains(err.Error(), "silent") {
		t.Fatalf("Sense error = %v, want ErrNoReply naming a silent line", err)
	}
	if time.Since(start) < 200*time.Millisecond {
		t.Errorf("gave up after %v, before the 200ms wait", time.Since(start))
	}
}

func TestGarbageOnlyTimesOut(t *testing.T) {
	d, _ := open(t, 200*time.Millisecond, uarttest.Step{Expect: passiveRead, Reply: []byte{0x42, 0x4D, 0x00, 0x1C, 0x00}})
	_, err := d.Sense(context.Background())
	if !errors.Is(err, uart.ErrNoReply) || !strings.Contains(err.Error(), "5 bytes arrived") {
		t.Fatalf("Sense error = %v, want ErrNoReply counting the bytes", err)
	}
}

func TestContextEndsTheWait(t *testing.T) {
	d, _ := open(t, time.Minute, uarttest.Step{Expect: passiveRead})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := d.Sense(ctx); !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, uart.ErrNoReply) {
		t.Fatalf("Sense error = %v, want the context's deadline to end the one-minute wait", err)
	}
}

func TestUnpluggedAdapter(t *testing.T) {
	d, dev := open(t, replyWait)
	// Wait until the passive-mode command was played, then pull the plug.
	for !bytes.Equal(dev.Received(), passiveMode) {
		time.Sleep(time.Millisecond)
	}
	dev.Unplug()
	_, err := d.Sense(context.Background())
	if err == nil || !strings.Contains(err.Error(), "unplugged") {
		t.Fatalf("Sense error = %v, want a read failure that suggests an unplugged adapter", err)
	}
	// The pseudo-terminal is gone for good, so reopening fails and says so.
	_, err = d.Sense(context.Background())
	if err == nil || !strings.Contains(err.Error(), "reopen") || !strings.Contains(err.Error(), dev.Path) {
		t.Fatalf("second Sense error = %v, want the failed reopen of %s", err, dev.Path)
	}
}

func TestOpenMissingPort(t *testing.T) {
	if _, err := Open("/dev/does-not-exist", nil); err == nil || !strings.Contains(err.Error(), "dialout") {
		t.Fatalf("Open error = %v, want a hint", err)
	}
}
