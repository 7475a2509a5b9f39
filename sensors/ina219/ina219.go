package ina219

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"sync"

	"github.com/edgepub/edgepub/sensors"
	"periph.io/x/conn/v3/i2c"
)

// Names of the values the monitor reports.
const (
	FieldVoltage = "voltage_v"
	FieldCurrent = "current_a"
	FieldPower   = "power_w"
)

// Registers, datasheet section "Register Maps".
const (
	regConfig                 = 0x00
	regShunt                  = 0x01
	regBus                    = 0x02
	shuntLSB                  = 10e-6 // volts per count, at every range
	busLSB                    = 4e-3  // volts per count of the register shifted right by 3
	busRange32                = 1 << 13
	modeContinuousShuntAndBus = 0b111
)

// shuntRange is a PGA setting: the full-scale shunt voltage and its PG bits.
type shuntRange struct {
	fullScale float64
	bits      uint16
}

// shuntRanges lists the PGA settings from the finest to the widest.
func shuntRanges() [4]shuntRange {
	return [4]shuntRange{{0.040, 0b00}, {0.080, 0b01}, {0.160, 0b10}, {0.320, 0b11}}
}

// Opts configures the monitor. Zero fields take their DefaultOpts value.
type Opts struct {
	// ShuntOhms is the resistance of the shunt between VIN+ and VIN−.
	ShuntOhms float64
	// MaxCurrentA is the largest current expected through the shunt, either
	// way; it selects the shunt voltage range.
	MaxCurrentA float64
	// Averaging is how many ADC samples the chip averages into one
	// conversion: 1 (532 µs), 2, 4, ... up to 128 (68 ms).
	Averaging int
}

// DefaultOpts returns the options used for a nil *Opts: the 0.1 Ω shunt of
// the common breakout boards, 3.2 A (the whole ±320 mV range) and no
// averaging, which is the chip's power-on configuration.
func DefaultOpts() Opts {
	return Opts{ShuntOhms: 0.1, MaxCurrentA: 3.2, Averaging: 1}
}

// withDefaults fills what opts leaves zero from DefaultOpts.
func withDefaults(opts *Opts) Opts {
	o := DefaultOpts()
	if opts != nil {
		if opts.ShuntOhms != 0 {
			o.ShuntOhms = opts.ShuntOhms
		}
		if opts.MaxCurrentA != 0 {
			o.MaxCurrentA = opts.MaxCurrentA
		}
		if opts.Averaging != 0 {
			o.Averaging = opts.Averaging
		}
	}
	return o
}

// CheckOpts reports what NewI2C would refuse in opts, without a bus.
func CheckOpts(opts *Opts) error {
	_, err := (&Dev{}).configFor(withDefaults(opts))
	return err
}

// Dev is one INA219 on an I²C bus.
type Dev struct {
	dev       i2c.Dev
	shuntOhms float64
	// clipCounts is the shunt register value at the end of the range.
	clipCounts int
	fullScale  float64
	mu         sync.Mutex
}

var _ sensors.Sensor = (*Dev)(nil)

// NewI2C configures the monitor at addr (0x40..0x4f, set by A0 and A1) for
// continuous conversions in the range opts asks for, and reads the
// configuration back to check that the chip took it.
func NewI2C(bus i2c.Bus, addr uint16, opts *Opts) (*Dev, error) {
	o := withDefaults(opts)
	d := &Dev{dev: i2c.Dev{Bus: bus, Addr: addr}, shuntOhms: o.ShuntOhms}
	if addr < 0x40 || addr > 0x4f {
		return nil, fmt.Errorf("%s: an INA219 answers only at 0x40..0x4f", d)
	}
	cfg, err := d.configFor(o)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d, err)
	}
	if err := d.dev.Tx([]byte{regConfig, byte(cfg >> 8), byte(cfg)}, nil); err != nil {
		return nil, fmt.Errorf("%s: no answer writing the configuration: %w", d, err)
	}
	got, err := d.readRegister(regConfig)
	if err != nil {
		return nil, fmt.Errorf("%s: reading the configuration back: %w", d, err)
	}
	if got != cfg {
		return nil, fmt.Errorf("%s: wrote configuration %#04x but read back %#04x: is this an INA219?", d, cfg, got)
	}
	return d, nil
}

// configFor picks the shunt range and ADC setting for o.
func (d *Dev) configFor(o Opts) (uint16, error) {
	if o.ShuntOhms <= 0 || math.IsNaN(o.ShuntOhms) {
		return 0, fmt.Errorf("shunt resistance %v Ω must be positive", o.ShuntOhms)
	}
	if o.MaxCurrentA <= 0 || math.IsNaN(o.MaxCurrentA) {
		return 0, fmt.Errorf("max current %v A must be positive", o.MaxCurrentA)
	}
	adc, ok := adcBits(o.Averaging)
	if !ok {
		return 0, fmt.Errorf("averaging %d: choose 1, 2, 4, 8, 16, 32, 64 or 128 samples", o.Averaging)
	}
	need := o.MaxCurrentA * o.ShuntOhms
	for _, r := range shuntRanges() {
		// The tolerance absorbs rounding: 3.2 A × 0.1 Ω is 0.32000000000000006.
		if need <= r.fullScale*(1+1e-9) {
			d.fullScale = r.fullScale
			d.clipCounts = int(math.Round(r.fullScale / shuntLSB))
			return busRange32 | r.bits<<11 | adc<<7 | adc<<3 | modeContinuousShuntAndBus, nil
		}
	}
	return 0, fmt.Errorf("%v A through %v Ω drops %.0f mV, more than the ±320 mV the chip measures: use a smaller shunt",
		o.MaxCurrentA, o.ShuntOhms, need*1000)
}

// adcBits is the 4-bit BADC/SADC setting for averaging n samples.
func adcBits(n int) (uint16, bool) {
	if n == 1 {
		return 0b0011, true // a single 12-bit sample
	}
	for i := uint16(1); i <= 7; i++ {
		if n == 1<<i {
			return 0b1000 | i, true
		}
	}
	return 0, false
}

// String names the monitor and its bus.
func (d *Dev) String() string {
	return fmt.Sprintf("ina219 at %#02x on %s", d.dev.Addr, d.dev.Bus)
}

// Sense reads the latest conversion as voltage_v, current_a and power_w.
// Current and power are negative when the current flows from VIN− to VIN+.
func (d *Dev) Sense(ctx context.Context) (sensors.Values, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	shunt, err := d.readRegister(regShunt)
	if err != nil {
		return nil, fmt.Errorf("%s: reading the shunt voltage: %w", d, err)
	}
	bus, err := d.readRegister(regBus)
	if err != nil {
		return nil, fmt.Errorf("%s: reading the bus voltage: %w", d, err)
	}
	counts := int(int16(shunt))
	if counts >= d.clipCounts || counts <= -d.clipCounts {
		return nil, fmt.Errorf("%s: shunt voltage at the end of its ±%.0f mV range, the current is clipped: raise max_current_a: %w",
			d, d.fullScale*1000, sensors.ErrImplausible)
	}
	volts := float64(bus>>3) * busLSB
	amps := float64(counts) * shuntLSB / d.shuntOhms
	return sensors.Values{FieldVoltage: volts, FieldCurrent: amps, FieldPower: volts * amps}, nil
}

// readRegister reads a 16-bit big-endian register.
func (d *Dev) readRegister(reg byte) (uint16, error) {
	var b [2]byte
	if err := d.dev.Tx([]byte{reg}, b[:]); err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint16(b[:]), nil
}
