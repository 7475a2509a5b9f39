package mcp3008

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"periph.io/x/conn/v3/conntest"
	"periph.io/x/conn/v3/spi/spitest"
)

// Transfers follow the datasheet's figure 6-1: the host sends 0x01, then
// SGL/DIFF=1 with D2..D0 in bits 7..4, then a don't-care byte; the chip
// answers with the null bit (0) and B9..B8 in the low bits of byte 2 and
// B7..B0 in byte 3. Bits the chip leaves undriven are 1 here (a pulled-up
// MISO) to show the driver masks them.
func port(ops ...conntest.IO) *spitest.Playback {
	return &spitest.Playback{Playback: conntest.Playback{Ops: ops, DontPanic: true}}
}

func TestSenseDecodesDatasheetFrames(t *testing.T) {
	p := port(
		// CH0, code 0x200 = 512: VIN = 512 × 3.3 / 1024 = 1.65 V (eq. 4-1).
		conntest.IO{W: []byte{0x01, 0x80, 0x00}, R: []byte{0xFF, 0xFA, 0x00}},
		// CH7, code 0x3FF = 1023: 3.2967773 V, scaled to a percentage.
		conntest.IO{W: []byte{0x01, 0xF0, 0x00}, R: []byte{0xFF, 0xFB, 0xFF}},
	)
	d, err := NewSPI(p, &Opts{Channels: []Channel{{Input: 0}, {Input: 7, Field: "level_pct", Scale: 100 / 3.3}}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := d.Sense(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(v["ain0_v"]-1.65) > 1e-12 || math.Abs(v["level_pct"]-100*1023.0/1024) > 1e-9 {
		t.Errorf("Sense() = %v, want ain0_v 1.65 and level_pct 99.90", v)
	}
	if err := p.Close(); err != nil {
		t.Error(err)
	}
}

func TestVRef(t *testing.T) {
	// VREF at 5 V: code 256 is 1.25 V.
	p := port(conntest.IO{W: []byte{0x01, 0xA0, 0x00}, R: []byte{0x00, 0x01, 0x00}})
	d, err := NewSPI(p, &Opts{VRef: 5, Channels: []Channel{{Input: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := d.Sense(context.Background()); err != nil || v["ain2_v"] != 1.25 {
		t.Errorf("Sense() = %v, %v; want ain2_v 1.25", v, err)
	}
}

func TestNoChip(t *testing.T) {
	// A floating MISO reads all ones, so the null bit is 1.
	p := port(conntest.IO{W: []byte{0x01, 0x80, 0x00}, R: []byte{0xFF, 0xFF, 0xFF}})
	d, err := NewSPI(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Sense(context.Background()); !errors.Is(err, errNoNullBit) || !strings.Contains(err.Error(), "CH0") {
		t.Errorf("Sense = %v, want the missing null bit for CH0", err)
	}
}

func TestNewSPIRejects(t *testing.T) {
	for _, tc := range []struct {
		opts Opts
		text string
	}{
		{Opts{Channels: []Channel{{Input: 8}}}, "0..7"},
		{Opts{VRef: 12}, "0.25..5.5"},
		{Opts{Channels: []Channel{{Input: 1}, {Input: 2, Field: "ain1_v"}}}, "twice"},
	} {
		if _, err := NewSPI(port(), &tc.opts); err == nil || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("NewSPI(%+v) = %v, want %q", tc.opts, err, tc.text)
		}
	}
}

func TestSenseHonoursContext(t *testing.T) {
	d, err := NewSPI(port(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.Sense(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Sense = %v", err)
	}
}
