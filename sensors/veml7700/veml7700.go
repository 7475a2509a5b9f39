package veml7700

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/edgepub/edgepub/sensors"
	"github.com/edgepub/edgepub/sensors/internal/conversion"
	"periph.io/x/conn/v3/i2c"
)

// Addr is the sensor's only I²C address.
const Addr uint16 = 0x10

// Registers (datasheet, command code table).
const (
	regConf = 0x00
	regALS  = 0x04
)

// Gain is the ALS gain.
type Gain uint8

// The four gains, by their ALS_GAIN bits 12:11.
const (
	Gain1   Gain = 0b00
	Gain2   Gain = 0b01
	Gain1_8 Gain = 0b10
	Gain1_4 Gain = 0b11
)

// factor is the gain as a multiplier.
func (g Gain) factor() (float64, bool) {
	switch g {
	case Gain1:
		return 1, true
	case Gain2:
		return 2, true
	case Gain1_8:
		return 0.125, true
	case Gain1_4:
		return 0.25, true
	}
	return 0, false
}

// integrationBits are the ALS_IT bits 9:6 of an integration time.
func integrationBits(d time.Duration) (uint16, bool) {
	switch d {
	case 25 * time.Millisecond:
		return 0b1100, true
	case 50 * time.Millisecond:
		return 0b1000, true
	case 100 * time.Millisecond:
		return 0b0000, true
	case 200 * time.Millisecond:
		return 0b0001, true
	case 400 * time.Millisecond:
		return 0b0010, true
	case 800 * time.Millisecond:
		return 0b0011, true
	}
	return 0, false
}

// resolutionAtMax is the lux per count at gain 2 and 800 ms; halving the
// gain or the integration time doubles it.
const resolutionAtMax = 0.0042

// Opts configures a Dev.
type Opts struct {
	Gain Gain
	// IntegrationTime is 25, 50, 100, 200, 400 or 800 ms.
	IntegrationTime time.Duration
}

// DefaultOpts is gain 1/8 and 100 ms, where the application note starts:
// 0.5376 lx per count, up to about 35,000 lx, linear without correction.
var DefaultOpts = Opts{Gain: Gain1_8, IntegrationTime: 100 * time.Millisecond}

// Dev is a VEML7700. It is safe for concurrent use.
type Dev struct {
	d          i2c.Dev
	resolution float64
	fresh      conversion.Gate

	mu sync.Mutex
}

var _ sensors.Sensor = (*Dev)(nil)

// NewI2C powers the sensor up at addr (always 0x10) on b with the gain and
// integration time of opts. A nil opts means DefaultOpts.
func NewI2C(b i2c.Bus, addr uint16, opts *Opts) (*Dev, error) {
	if opts == nil {
		opts = &DefaultOpts
	}
	d := &Dev{d: i2c.Dev{Bus: b, Addr: addr}}
	if addr != Addr {
		return nil, fmt.Errorf("%s: the VEML7700 answers only at 0x10", d)
	}
	gain, ok := opts.Gain.factor()
	if !ok {
		return nil, fmt.Errorf("%s: unknown gain %d: use Gain1, Gain2, Gain1_8 or Gain1_4", d, opts.Gain)
	}
	it, ok := integrationBits(opts.IntegrationTime)
	if !ok {
		return nil, fmt.Errorf("%s: integration time %v: use 25, 50, 100, 200, 400 or 800 ms", d, opts.IntegrationTime)
	}
	d.resolution = resolutionAtMax * (2 / gain) * (float64(800*time.Millisecond) / float64(opts.IntegrationTime))
	// ALS_SD (bit 0) clear powers the sensor on; interrupts stay off.
	conf := uint16(opts.Gain)<<11 | it<<6
	if err := d.d.Tx([]byte{regConf, byte(conf), byte(conf >> 8)}, nil); err != nil {
		return nil, fmt.Errorf("%s: write configuration (is a VEML7700 connected?): %w", d, err)
	}
	// The first result is ready one integration time after power-on, plus
	// the 2.5 ms wake-up of the datasheet's power-on note.
	d.fresh = conversion.NewGate(opts.IntegrationTime + 3*time.Millisecond)
	return d, nil
}

// String names the device and its bus.
func (d *Dev) String() string {
	return fmt.Sprintf("veml7700 at %#x on %s", d.d.Addr, d.d.Bus)
}

// Resolution is the lux per count of the configured gain and time.
func (d *Dev) Resolution() float64 { return d.resolution }

// Sense returns "illuminance_lux". A saturated count (0xFFFF) is an error
// that says to lower the gain or the integration time.
func (d *Dev) Sense(ctx context.Context) (sensors.Values, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.fresh.Await(ctx, func() error { return nil }); err != nil {
		return nil, fmt.Errorf("%s: %w", d, err)
	}
	var b [2]byte
	if err := d.d.Tx([]byte{regALS}, b[:]); err != nil {
		return nil, fmt.Errorf("%s: read ALS: %w", d, err)
	}
	count := uint16(b[0]) | uint16(b[1])<<8
	if count == 0xFFFF {
		return nil, fmt.Errorf("%s: saturated above %.0f lx: lower the gain or the integration time", d, 0xFFFF*d.resolution)
	}
	return sensors.Values{"illuminance_lux": float64(count) * d.resolution}, nil
}
