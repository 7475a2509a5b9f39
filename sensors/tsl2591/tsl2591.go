package tsl2591

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/edgepub/edgepub/sensors"
	"github.com/edgepub/edgepub/sensors/internal/conversion"
	"github.com/edgepub/edgepub/sensors/internal/pause"
	"periph.io/x/conn/v3/i2c"
)

// Addr is the TSL2591's only I²C address.
const Addr uint16 = 0x29

// DeviceID is what the ID register (0x12) holds on a TSL2591, per the
// datasheet's register description.
const DeviceID = 0x50

// Registers, and the COMMAND byte that selects one (datasheet, "Command
// Register": CMD bit 7, TRANSACTION 01 for normal operation in bits 6:5).
const (
	command     = 0xA0
	regEnable   = 0x00
	regControl  = 0x01
	regID       = 0x12
	regStatus   = 0x13
	regC0DataL  = 0x14 // C0DATAL, C0DATAH, C1DATAL, C1DATAH follow
	enablePower = 0x01 // PON: oscillator on
	enableALS   = 0x02 // AEN: ALS integrating
	statusValid = 0x01 // AVALID: an integration has finished since AEN
)

// Gain is the ALS gain, the AGAIN bits 5:4 of the CONTROL register.
type Gain uint8

// The four gains.
const (
	GainLow    Gain = 0b00 // 1×
	GainMedium Gain = 0b01 // 25×
	GainHigh   Gain = 0b10 // 428×
	GainMax    Gain = 0b11 // 9876×
)

// factor is the gain as the lux formula's multiplier: the Linux kernel's
// and Adafruit's values, which the device factor 408 was fitted with (the
// datasheet's typical channel 0 ratios are 24.5, 400 and 9200).
func (g Gain) factor() (float64, bool) {
	switch g {
	case GainLow:
		return 1, true
	case GainMedium:
		return 25, true
	case GainHigh:
		return 428, true
	case GainMax:
		return 9876, true
	}
	return 0, false
}

// luxDF is the device factor of the lux formula (see the package doc).
const luxDF = 408

// integrationBits are the ATIME bits 2:0 of an integration time: 100 ms
// steps from 000.
func integrationBits(d time.Duration) (byte, bool) {
	if d < 100*time.Millisecond || d > 600*time.Millisecond || d%(100*time.Millisecond) != 0 {
		return 0, false
	}
	return byte(d/(100*time.Millisecond) - 1), true
}

// maxCount is the count a channel saturates at: the datasheet's MAX COUNT
// for ATIME 000 (100 ms) is 36863, the 16-bit maximum for the others.
func maxCount(integration time.Duration) uint16 {
	if integration == 100*time.Millisecond {
		return 36863
	}
	return 0xFFFF
}

// Polls of AVALID after the first integration: the oscillator may run up
// to 5 % slow (105 ms per 100 ms step), which 10 polls of 10 ms cover, as
// in the kernel's driver.
const (
	validPoll  = 10 * time.Millisecond
	validPolls = 10
)

// Opts configures a Dev.
type Opts struct {
	Gain Gain
	// IntegrationTime is 100, 200, 300, 400, 500 or 600 ms: longer
	// resolves less light, and saturates sooner.
	IntegrationTime time.Duration
}

// DefaultOpts is gain 25× and 100 ms: about 0.16 lx per count, saturating
// near 6000 lx, which covers indoor light; use GainLow outdoors.
var DefaultOpts = Opts{Gain: GainMedium, IntegrationTime: 100 * time.Millisecond}

// MaxReadTime is the longest read of DefaultOpts: the first integration
// (105 ms at most), the AVALID polls and the bus transfers.
const MaxReadTime = 250 * time.Millisecond

// Dev is a TSL2591. It is safe for concurrent use.
type Dev struct {
	d           i2c.Dev
	gain        float64
	integration time.Duration
	fresh       conversion.Gate

	mu sync.Mutex
}

var _ sensors.Sensor = (*Dev)(nil)

// NewI2C checks that a TSL2591 answers at addr (always 0x29) on b, sets
// the gain and integration time of opts and powers the ALS on. A nil
// opts means DefaultOpts.
func NewI2C(b i2c.Bus, addr uint16, opts *Opts) (*Dev, error) {
	if opts == nil {
		opts = &DefaultOpts
	}
	d := &Dev{d: i2c.Dev{Bus: b, Addr: addr}, integration: opts.IntegrationTime}
	if addr != Addr {
		return nil, fmt.Errorf("%s: the TSL2591 answers only at 0x29", d)
	}
	gain, ok := opts.Gain.factor()
	if !ok {
		return nil, fmt.Errorf("%s: unknown gain %d: use GainLow, GainMedium, GainHigh or GainMax", d, opts.Gain)
	}
	atime, ok := integrationBits(opts.IntegrationTime)
	if !ok {
		return nil, fmt.Errorf("%s: integration time %v: use 100, 200, 300, 400, 500 or 600 ms", d, opts.IntegrationTime)
	}
	d.gain = gain
	var id [1]byte
	if err := d.d.Tx([]byte{command | regID}, id[:]); err != nil {
		return nil, fmt.Errorf("%s: read the device id (is a TSL2591 connected?): %w", d, err)
	}
	if id[0] != DeviceID {
		return nil, fmt.Errorf("%s: device id %#02x is not the TSL2591's %#02x: another chip answers at this address", d, id[0], DeviceID)
	}
	if err := d.d.Tx([]byte{command | regControl, byte(opts.Gain)<<4 | atime}, nil); err != nil {
		return nil, fmt.Errorf("%s: set gain and integration time: %w", d, err)
	}
	if err := d.d.Tx([]byte{command | regEnable, enablePower | enableALS}, nil); err != nil {
		return nil, fmt.Errorf("%s: power on: %w", d, err)
	}
	// The first result comes one integration after AEN, the oscillator
	// up to 5 % slow.
	d.fresh = conversion.NewGate(opts.IntegrationTime + opts.IntegrationTime/20)
	return d, nil
}

// String names the device and its bus.
func (d *Dev) String() string {
	return fmt.Sprintf("tsl2591 at %#x on %s", d.d.Addr, d.d.Bus)
}

// Spacing is the integration time: the chip has a new result once per
// integration, and a read sooner gets the last one again.
func (d *Dev) Spacing() time.Duration { return d.integration }

// Sense returns "illuminance_lux". A saturated channel is an error that
// says to lower the gain or the integration time.
func (d *Dev) Sense(ctx context.Context) (sensors.Values, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.fresh.Await(ctx, func() error { return nil }); err != nil {
		return nil, fmt.Errorf("%s: %w", d, err)
	}
	if err := d.awaitValid(ctx); err != nil {
		return nil, fmt.Errorf("%s: %w", d, err)
	}
	var b [4]byte
	if err := d.d.Tx([]byte{command | regC0DataL}, b[:]); err != nil {
		return nil, fmt.Errorf("%s: read C0DATA and C1DATA: %w", d, err)
	}
	ch0 := uint16(b[0]) | uint16(b[1])<<8
	ch1 := uint16(b[2]) | uint16(b[3])<<8
	if top := maxCount(d.integration); ch0 >= top || ch1 >= top {
		return nil, fmt.Errorf("%s: saturated (channel 0 %d, channel 1 %d counts of %d) above about %.0f lx: lower the gain or the integration time",
			d, ch0, ch1, top, float64(top)/d.countsPerLux())
	}
	return sensors.Values{"illuminance_lux": lux(ch0, ch1, d.countsPerLux())}, nil
}

// awaitValid waits until the status register's AVALID bit says an
// integration has finished.
func (d *Dev) awaitValid(ctx context.Context) error {
	for poll := 0; ; poll++ {
		var status [1]byte
		if err := d.d.Tx([]byte{command | regStatus}, status[:]); err != nil {
			return fmt.Errorf("read status: %w", err)
		}
		if status[0]&statusValid != 0 {
			return nil
		}
		if poll == validPolls {
			return fmt.Errorf("no valid result %v after power-on (status %#02x): is the chip powered and enabled?", d.integration+validPolls*validPoll, status[0])
		}
		if err := pause.For(ctx, validPoll); err != nil {
			return fmt.Errorf("wait for a valid result: %w", err)
		}
	}
}

// countsPerLux is the formula's CPL for the gain and integration time.
func (d *Dev) countsPerLux() float64 {
	return float64(d.integration/time.Millisecond) * d.gain / luxDF
}

// lux is the illuminance of the channel counts ch0 (visible and infrared)
// and ch1 (infrared) at cpl counts per lux. Channel 1 at or above
// channel 0, which only noise in the dark gives, is 0 lx.
func lux(ch0, ch1 uint16, cpl float64) float64 {
	if ch1 >= ch0 {
		return 0
	}
	c0, c1 := float64(ch0), float64(ch1)
	return (c0 - c1) * (1 - c1/c0) / cpl
}
