package sht3x

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/edgepub/edgepub/sensors"
	"github.com/edgepub/edgepub/sensors/internal/pause"
	"github.com/edgepub/edgepub/sensors/internal/plausible"
	"github.com/edgepub/edgepub/sensors/internal/sensirion"
	"periph.io/x/conn/v3/i2c"
)

// DefaultAddr is the address with the ADDR pin low; pulled high it is 0x45.
const DefaultAddr uint16 = 0x44

// Measurable range of the device (datasheet, table 2).
const (
	minCelsius = -40.0
	maxCelsius = 125.0
)

// Commands (datasheet, tables 9, 13 and 17) and waits.
var (
	cmdReadStatus = []byte{0xF3, 0x2D}
	cmdSoftReset  = []byte{0x30, 0xA2}
)

// waitSoftReset is the datasheet's maximum soft reset time (1.5 ms), rounded up.
const waitSoftReset = 2 * time.Millisecond

// Repeatability selects the measurement's noise level. Higher repeatability
// takes longer; the zero value is the highest.
type Repeatability uint8

// The three repeatability levels of the datasheet's table 9.
const (
	High Repeatability = iota
	Medium
	Low
)

// String names the repeatability for logs and test names.
func (r Repeatability) String() string {
	switch r {
	case High:
		return "high"
	case Medium:
		return "medium"
	case Low:
		return "low"
	}
	return fmt.Sprintf("Repeatability(%d)", uint8(r))
}

type measureCommand struct {
	code []byte
	wait time.Duration
}

// Single shot, clock stretching disabled (table 9); each wait is the
// maximum measurement duration of table 4 (15, 6 and 4 ms) plus 1 ms,
// because a read before the end is NACKed.
var measureCommands = [...]measureCommand{
	High:   {code: []byte{0x24, 0x00}, wait: 16 * time.Millisecond},
	Medium: {code: []byte{0x24, 0x0B}, wait: 7 * time.Millisecond},
	Low:    {code: []byte{0x24, 0x16}, wait: 5 * time.Millisecond},
}

// Opts configures a Dev.
type Opts struct {
	// Repeatability of each measurement.
	Repeatability Repeatability
}

// DefaultOpts measures at high repeatability (16 ms per read).
var DefaultOpts = Opts{Repeatability: High}

// Dev is an SHT3x on an I²C bus. It is safe for concurrent use.
type Dev struct {
	d    i2c.Dev
	opts Opts

	mu sync.Mutex
}

var _ sensors.Sensor = (*Dev)(nil)

// NewI2C returns the SHT3x at addr (0x44 or 0x45) on b. It reads the status
// register once to make sure an SHT3x answers there. A nil opts means
// DefaultOpts.
func NewI2C(b i2c.Bus, addr uint16, opts *Opts) (*Dev, error) {
	if addr != 0x44 && addr != 0x45 {
		return nil, fmt.Errorf("sht3x: address %#x is not an SHT3x address: use 0x44 or 0x45 (set by the ADDR pin)", addr)
	}
	if opts == nil {
		opts = &DefaultOpts
	}
	if int(opts.Repeatability) >= len(measureCommands) {
		return nil, fmt.Errorf("sht3x: unknown repeatability %d: use High, Medium or Low", opts.Repeatability)
	}
	d := &Dev{d: i2c.Dev{Bus: b, Addr: addr}, opts: *opts}
	// The status read needs no wait; the constructor has no caller context.
	if _, err := sensirion.ReadWords(context.Background(), &d.d, pause.For, cmdReadStatus, 0, 1); err != nil {
		return nil, fmt.Errorf("%s: read status (is an SHT3x connected at this address?): %w", d, err)
	}
	return d, nil
}

// String names the device and where it is, for error messages and logs.
func (d *Dev) String() string {
	return fmt.Sprintf("sht3x at %#x on %s", d.d.Addr, d.d.Bus)
}

// Sense measures once and returns "temperature_c" and "humidity_pct".
// Humidity is clamped to 0..100 %; a temperature outside -40..125 °C is
// reported as sensors.ErrImplausible.
func (d *Dev) Sense(ctx context.Context) (sensors.Values, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	cmd := measureCommands[d.opts.Repeatability]
	words, err := sensirion.ReadWords(ctx, &d.d, pause.For, cmd.code, cmd.wait, 2)
	if err != nil {
		return nil, fmt.Errorf("%s: measure: %w", d, err)
	}
	// Datasheet section 4.13, conversion of signal output.
	celsius := -45 + 175*float64(words[0])/65535
	if err := plausible.Temperature(celsius, minCelsius, maxCelsius, 2); err != nil {
		return nil, fmt.Errorf("%s: %w", d, err)
	}
	humidity := min(max(100*float64(words[1])/65535, 0), 100)
	return sensors.Values{"temperature_c": celsius, "humidity_pct": humidity}, nil
}

// Reset sends a soft reset, a way out when the sensor keeps NACKing.
func (d *Dev) Reset(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := sensirion.ReadWords(ctx, &d.d, pause.For, cmdSoftReset, waitSoftReset, 0); err != nil {
		return fmt.Errorf("%s: soft reset: %w", d, err)
	}
	return nil
}
