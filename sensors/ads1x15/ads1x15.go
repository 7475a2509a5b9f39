package ads1x15

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/edgepub/edgepub/sensors"
	"github.com/edgepub/edgepub/sensors/internal/pause"
	"periph.io/x/conn/v3/i2c"
)

// Registers and configuration bits, datasheet section "Register Map".
const (
	regConversion   = 0x00
	regConfig       = 0x01
	cfgStartSingle  = 0x8000
	cfgMuxSingle0   = 0b100 // AIN0 against GND; AIN1..3 follow
	cfgModeSingle   = 0x0100
	cfgCompDisabled = 0x0003
	// pollAttempts bounds how often Sense asks whether a late conversion is
	// done before it gives up.
	pollAttempts = 10
)

// Channel maps one single-ended input to a named quantity.
type Channel struct {
	// Input is the analog input, 0..3 for AIN0..AIN3, measured against GND.
	Input int
	// Field is the name of the value, with its unit, such as "humidity_pct".
	// Empty means "ain<Input>_v", the voltage.
	Field string
	// Gain is the amplifier gain and fixes the full-scale range: 2/3
	// (±6.144 V), 1 (±4.096 V), 2 (±2.048 V), 4, 8 or 16 (±0.256 V). 0 means
	// 1. No input may exceed the supply voltage, whatever the range.
	Gain float64
	// Scale and Offset map volts to the quantity: volts*Scale + Offset. A
	// zero Scale means 1.
	Scale, Offset float64
}

// Opts configures the converter. Zero fields take their DefaultOpts value.
type Opts struct {
	// Channels are read in order at every Sense.
	Channels []Channel
	// DataRate is the conversion rate in samples per second, one the chip
	// offers: ADS1115 8..860, ADS1015 128..3300. Slower means less noise.
	DataRate int
}

// DefaultOpts returns the options used for a nil *Opts: the voltage of AIN0
// in the ±4.096 V range, as ain0_v, at the chip's default rate (0 here: 128
// samples per second on an ADS1115, 1600 on an ADS1015).
func DefaultOpts() Opts {
	return Opts{Channels: []Channel{{Input: 0}}}
}

// chip describes what differs between the two converters.
type chip struct {
	name string
	// rates lists the data rates in order of their DR bits.
	rates       []int
	defaultRate int
	// maxCode is the largest conversion register value: 12-bit results are
	// left-justified in the 16-bit register.
	maxCode int16
}

func ads1115() chip {
	return chip{"ads1115", []int{8, 16, 32, 64, 128, 250, 475, 860}, 128, 0x7fff}
}

func ads1015() chip {
	return chip{"ads1015", []int{128, 250, 490, 920, 1600, 2400, 3300}, 1600, 0x7ff0}
}

// CheckADS1115 and CheckADS1015 report what NewADS1115 and NewADS1015 would
// refuse in opts, without a bus.
func CheckADS1115(opts *Opts) error { return check(ads1115(), opts) }

// CheckADS1015 is CheckADS1115 for the ADS1015.
func CheckADS1015(opts *Opts) error { return check(ads1015(), opts) }

func check(c chip, opts *Opts) error {
	d := &Dev{chip: c}
	return d.configure(withDefaults(opts))
}

// channel is a validated Channel with its configuration word.
type channel struct {
	Channel
	config    uint16
	fullScale float64
}

// Dev is one ADS1x15 on an I²C bus.
type Dev struct {
	dev      i2c.Dev
	chip     chip
	channels []channel
	wait     time.Duration
	mu       sync.Mutex
}

var _ sensors.Sensor = (*Dev)(nil)

// NewADS1115 opens a 16-bit ADS1115 at addr (0x48..0x4b, set by the ADDR pin).
func NewADS1115(bus i2c.Bus, addr uint16, opts *Opts) (*Dev, error) {
	return newDev(bus, addr, ads1115(), opts)
}

// NewADS1015 opens a 12-bit ADS1015 at addr (0x48..0x4b, set by the ADDR pin).
func NewADS1015(bus i2c.Bus, addr uint16, opts *Opts) (*Dev, error) {
	return newDev(bus, addr, ads1015(), opts)
}

// withDefaults fills what opts leaves unset from DefaultOpts.
func withDefaults(opts *Opts) Opts {
	o := DefaultOpts()
	if opts != nil {
		if len(opts.Channels) > 0 {
			o.Channels = opts.Channels
		}
		o.DataRate = opts.DataRate
	}
	return o
}

func newDev(bus i2c.Bus, addr uint16, c chip, opts *Opts) (*Dev, error) {
	o := withDefaults(opts)
	d := &Dev{dev: i2c.Dev{Bus: bus, Addr: addr}, chip: c}
	if addr < 0x48 || addr > 0x4b {
		return nil, fmt.Errorf("%s: an %s answers only at 0x48..0x4b", d, c.name)
	}
	if err := d.configure(o); err != nil {
		return nil, fmt.Errorf("%s: %w", d, err)
	}
	// Reading the configuration register proves the chip is there without
	// starting a conversion.
	var b [2]byte
	if err := d.dev.Tx([]byte{regConfig}, b[:]); err != nil {
		return nil, fmt.Errorf("%s: no answer: %w", d, err)
	}
	return d, nil
}

// configure validates o and prepares each channel's configuration word.
func (d *Dev) configure(o Opts) error {
	rate := o.DataRate
	if rate == 0 {
		rate = d.chip.defaultRate
	}
	drBits := -1
	for i, r := range d.chip.rates {
		if r == rate {
			drBits = i
		}
	}
	if drBits < 0 {
		return fmt.Errorf("data rate %d: choose one of %v samples per second", rate, d.chip.rates)
	}
	// The chip's oscillator may run 10 % slow; add the wake-up time too.
	d.wait = time.Second*11/time.Duration(10*rate) + 50*time.Microsecond
	seen := map[string]bool{}
	for _, c := range o.Channels {
		if c.Input < 0 || c.Input > 3 {
			return fmt.Errorf("input %d: choose 0..3 (AIN0..AIN3)", c.Input)
		}
		if c.Field == "" {
			c.Field = "ain" + strconv.Itoa(c.Input) + "_v"
		}
		if seen[c.Field] {
			return fmt.Errorf("field %q is given to two channels: name each channel's field differently", c.Field)
		}
		seen[c.Field] = true
		if c.Scale == 0 {
			c.Scale = 1
		}
		pga, fullScale, err := gainBits(c.Gain)
		if err != nil {
			return fmt.Errorf("input %d: %w", c.Input, err)
		}
		cfg := cfgStartSingle | uint16(cfgMuxSingle0+c.Input)<<12 | pga<<9 | cfgModeSingle | uint16(drBits)<<5 | cfgCompDisabled
		d.channels = append(d.channels, channel{Channel: c, config: cfg, fullScale: fullScale})
	}
	return nil
}

// gainBits returns the PGA bits and full-scale voltage for a gain.
func gainBits(g float64) (uint16, float64, error) {
	if g == 0 {
		g = 1
	}
	for i, want := range []float64{2.0 / 3, 1, 2, 4, 8, 16} {
		if math.Abs(g-want) <= 0.01*want {
			return uint16(i), 4.096 / want, nil
		}
	}
	return 0, 0, fmt.Errorf("gain %v: choose 2/3 (0.667), 1, 2, 4, 8 or 16", g)
}

// String names the converter and its bus.
func (d *Dev) String() string {
	return fmt.Sprintf("%s at %#02x on %s", d.chip.name, d.dev.Addr, d.dev.Bus)
}

// Sense converts every channel and returns each one's mapped value.
func (d *Dev) Sense(ctx context.Context) (sensors.Values, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	v := make(sensors.Values, len(d.channels))
	for _, c := range d.channels {
		volts, err := d.convert(ctx, c)
		if err != nil {
			return nil, fmt.Errorf("%s: AIN%d: %w", d, c.Input, err)
		}
		v[c.Field] = volts*c.Scale + c.Offset
	}
	return v, nil
}

// convert runs one single-shot conversion and returns the input's voltage.
func (d *Dev) convert(ctx context.Context, c channel) (float64, error) {
	if err := d.dev.Tx([]byte{regConfig, byte(c.config >> 8), byte(c.config)}, nil); err != nil {
		return 0, fmt.Errorf("starting a conversion: %w", err)
	}
	if err := pause.For(ctx, d.wait); err != nil {
		return 0, fmt.Errorf("waiting for the conversion: %w", err)
	}
	if err := d.awaitDone(ctx); err != nil {
		return 0, err
	}
	raw, err := d.readRegister(regConversion)
	if err != nil {
		return 0, fmt.Errorf("reading the conversion: %w", err)
	}
	code := int16(raw)
	if code >= d.chip.maxCode || code == math.MinInt16 {
		return 0, fmt.Errorf("input at the end of the ±%.3f V range, the value is clipped: lower the gain: %w", c.fullScale, sensors.ErrImplausible)
	}
	return float64(code) / 32768 * c.fullScale, nil
}

// awaitDone polls the configuration register until the OS bit reports that
// no conversion is running.
func (d *Dev) awaitDone(ctx context.Context) error {
	for range pollAttempts {
		cfg, err := d.readRegister(regConfig)
		if err != nil {
			return fmt.Errorf("reading the conversion status: %w", err)
		}
		if cfg&cfgStartSingle != 0 {
			return nil
		}
		if err := pause.For(ctx, d.wait/10); err != nil {
			return fmt.Errorf("waiting for the conversion: %w", err)
		}
	}
	return errors.New("the conversion never finished: is this an ADS1x15?")
}

// readRegister reads a 16-bit big-endian register.
func (d *Dev) readRegister(reg byte) (uint16, error) {
	var b [2]byte
	if err := d.dev.Tx([]byte{reg}, b[:]); err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint16(b[:]), nil
}
