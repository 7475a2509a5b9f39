package bh1750

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/edgepub/edgepub/sensors"
	"github.com/edgepub/edgepub/sensors/internal/pause"
	"periph.io/x/conn/v3/i2c"
)

// Field is the name of the value the sensor reports.
const Field = "illuminance_lux"

// The two addresses the ADDR pin selects.
const (
	AddrLow  uint16 = 0x23
	AddrHigh uint16 = 0x5c
)

// Resolution selects a one-time measurement mode.
type Resolution int

const (
	// High measures in 1 lx steps in at most 180 ms; the datasheet
	// recommends it.
	High Resolution = iota
	// High2 measures in 0.5 lx steps in at most 180 ms, for dim light.
	High2
	// Low measures in 4 lx steps in at most 24 ms.
	Low
)

// mode is the instruction and timing of one measurement mode.
type mode struct {
	opcode byte
	wait   time.Duration // maximum measurement time
	// divisor turns the count into lux: 1.2 counts per lux at the default
	// measurement time, twice that in H-resolution mode 2.
	divisor float64
}

// modeFor follows the datasheet's instruction set and measurement times.
func modeFor(r Resolution) (mode, bool) {
	switch r {
	case High:
		return mode{opcode: 0x20, wait: 180 * time.Millisecond, divisor: 1.2}, true
	case High2:
		return mode{opcode: 0x21, wait: 180 * time.Millisecond, divisor: 2.4}, true
	case Low:
		return mode{opcode: 0x23, wait: 24 * time.Millisecond, divisor: 1.2}, true
	}
	return mode{}, false
}

const opPowerDown = 0x00

// Opts configures the sensor. The zero Opts is DefaultOpts.
type Opts struct {
	// Resolution selects the measurement mode.
	Resolution Resolution
}

// DefaultOpts returns the options used for a nil *Opts: High resolution.
func DefaultOpts() Opts { return Opts{Resolution: High} }

// Dev is one BH1750 on an I²C bus.
type Dev struct {
	dev  i2c.Dev
	mode mode
	mu   sync.Mutex
}

var _ sensors.Sensor = (*Dev)(nil)

// NewI2C opens the sensor at addr (AddrLow or AddrHigh) and checks that it
// acknowledges a power-down instruction, which leaves it in its idle state.
func NewI2C(bus i2c.Bus, addr uint16, opts *Opts) (*Dev, error) {
	o := DefaultOpts()
	if opts != nil {
		o = *opts
	}
	m, ok := modeFor(o.Resolution)
	if !ok {
		return nil, fmt.Errorf("bh1750 at %#02x on %s: unknown resolution %d", addr, bus, o.Resolution)
	}
	d := &Dev{dev: i2c.Dev{Bus: bus, Addr: addr}, mode: m}
	if addr != AddrLow && addr != AddrHigh {
		return nil, fmt.Errorf("%s: a BH1750 answers only at 0x23 (ADDR low) or 0x5c (ADDR high)", d)
	}
	if err := d.dev.Tx([]byte{opPowerDown}, nil); err != nil {
		return nil, fmt.Errorf("%s: no answer: %w", d, err)
	}
	return d, nil
}

// String names the sensor and its bus.
func (d *Dev) String() string {
	return fmt.Sprintf("bh1750 at %#02x on %s", d.dev.Addr, d.dev.Bus)
}

// Sense measures the illuminance as illuminance_lux.
func (d *Dev) Sense(ctx context.Context) (sensors.Values, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.dev.Tx([]byte{d.mode.opcode}, nil); err != nil {
		return nil, fmt.Errorf("%s: starting a measurement: %w", d, err)
	}
	if err := pause.For(ctx, d.mode.wait); err != nil {
		return nil, fmt.Errorf("%s: waiting for the measurement: %w", d, err)
	}
	var b [2]byte
	if err := d.dev.Tx(nil, b[:]); err != nil {
		return nil, fmt.Errorf("%s: reading the measurement: %w", d, err)
	}
	return sensors.Values{Field: float64(binary.BigEndian.Uint16(b[:])) / d.mode.divisor}, nil
}
