package mcp3008

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/edgepub/edgepub/sensors"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"
)

// ClockSpeed is the SPI clock used. The datasheet allows 1.35 MHz at
// VDD = 2.7 V and 3.6 MHz at 5 V; 1 MHz is safe at the Pi's 3.3 V and
// leaves the sample capacitor time to charge through a source of up to a
// few kΩ (section 4.1).
const ClockSpeed = physic.MegaHertz

// Channel maps one single-ended input to a named quantity.
type Channel struct {
	// Input is CH0..CH7, measured against VSS.
	Input int
	// Field names the value with its unit. Empty means "ain<Input>_v".
	Field string
	// Scale and Offset map volts to the quantity: volts*Scale + Offset.
	// A zero Scale means 1.
	Scale, Offset float64
}

// Opts configures a Dev.
type Opts struct {
	// VRef is the voltage on the VREF pin, in volts: the input that reads
	// as full scale (code 1024). Zero means 3.3, the Pi's supply.
	VRef float64
	// Channels are read in order at every Sense. Empty means CH0 as ain0_v.
	Channels []Channel
}

// DefaultOpts reads CH0 with VREF tied to the Pi's 3.3 V.
func DefaultOpts() Opts {
	return Opts{VRef: 3.3, Channels: []Channel{{Input: 0}}}
}

// Dev is an MCP3008 on an SPI port. It is safe for concurrent use.
type Dev struct {
	conn     spi.Conn
	port     string
	vref     float64
	channels []Channel

	mu sync.Mutex
}

var _ sensors.Sensor = (*Dev)(nil)

// NewSPI returns the MCP3008 on p, connected in SPI mode 0 at ClockSpeed.
// The chip has no identification, so NewSPI checks the configuration only:
// a missing chip shows up at the first Sense, as readings of 0 or 1023.
func NewSPI(p spi.Port, opts *Opts) (*Dev, error) {
	d := &Dev{port: fmt.Sprint(p)}
	vref, channels, err := configure(opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d, err)
	}
	d.vref, d.channels = vref, channels
	conn, err := p.Connect(ClockSpeed, spi.Mode0, 8)
	if err != nil {
		return nil, fmt.Errorf("%s: connect at %s in mode 0: %w", d, ClockSpeed, err)
	}
	d.conn = conn
	return d, nil
}

// CheckOpts reports what NewSPI would refuse in opts, without a port.
func CheckOpts(opts *Opts) error {
	_, _, err := configure(opts)
	return err
}

// configure fills in opts' defaults and checks them.
func configure(opts *Opts) (float64, []Channel, error) {
	o := DefaultOpts()
	if opts != nil {
		if opts.VRef != 0 {
			o.VRef = opts.VRef
		}
		if len(opts.Channels) > 0 {
			o.Channels = opts.Channels
		}
	}
	if o.VRef < 0.25 || o.VRef > 5.5 {
		return 0, nil, fmt.Errorf("vref %g V is outside the datasheet's 0.25..5.5 V (tie VREF to 3.3 V and say 3.3)", o.VRef)
	}
	var channels []Channel
	seen := map[string]bool{}
	for _, c := range o.Channels {
		if c.Input < 0 || c.Input > 7 {
			return 0, nil, fmt.Errorf("input %d does not exist: use 0..7 (CH0..CH7)", c.Input)
		}
		if c.Field == "" {
			c.Field = "ain" + strconv.Itoa(c.Input) + "_v"
		}
		if c.Scale == 0 {
			c.Scale = 1
		}
		if seen[c.Field] {
			return 0, nil, fmt.Errorf("field %s is given twice: name each channel's field", c.Field)
		}
		seen[c.Field] = true
		channels = append(channels, c)
	}
	return o.VRef, channels, nil
}

// String names the device and where it is.
func (d *Dev) String() string {
	return "mcp3008 on " + d.port
}

// Sense converts every configured channel once.
func (d *Dev) Sense(ctx context.Context) (sensors.Values, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	v := sensors.Values{}
	for _, c := range d.channels {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		code, err := d.convert(c.Input)
		if err != nil {
			return nil, fmt.Errorf("%s: CH%d: %w", d, c.Input, err)
		}
		// Equation 4-1: code = 1024 × VIN / VREF.
		volts := float64(code) * d.vref / 1024
		v[c.Field] = volts*c.Scale + c.Offset
	}
	return v, nil
}

// errNoNullBit means the bit before the result was not the null bit the
// chip always sends: MISO is floating or stuck high, so no chip answered.
var errNoNullBit = errors.New("no null bit before the result (MISO floating or stuck high: check wiring and chip select)")

// convert runs one single-ended conversion (figure 6-1): start bit in the
// first byte, SGL=1 and D2..D0 in the top nibble of the second; the reply's
// second byte carries the null bit and B9..B8, the third B7..B0.
func (d *Dev) convert(input int) (uint16, error) {
	w := []byte{0x01, 0x80 | byte(input)<<4, 0x00}
	r := make([]byte, 3)
	if err := d.conn.Tx(w, r); err != nil {
		return 0, err
	}
	if r[1]&0x04 != 0 {
		return 0, errNoNullBit
	}
	return uint16(r[1]&0x03)<<8 | uint16(r[2]), nil
}
