package aht20

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/edgepub/edgepub/sensors"
	"github.com/edgepub/edgepub/sensors/internal/pause"
	"github.com/edgepub/edgepub/sensors/internal/plausible"
	"github.com/edgepub/edgepub/sensors/internal/sensirion"
	"periph.io/x/conn/v3/i2c"
)

// DefaultAddr is the sensor's fixed I²C address.
const DefaultAddr uint16 = 0x38

// Measurable range of the device (datasheet, temperature specifications).
const (
	minCelsius = -40.0
	maxCelsius = 85.0
)

// Commands, status bits and times from the datasheet (v1.1, section 5.4
// "Sensor reading process" and 5.5 "Soft reset").
var (
	cmdInitialize = []byte{0xbe, 0x08, 0x00}
	cmdMeasure    = []byte{0xac, 0x33, 0x00}
	cmdSoftReset  = []byte{0xba}
)

const (
	statusBusy       = 0x80
	statusCalibrated = 0x08

	powerUpTime    = 40 * time.Millisecond
	softResetTime  = 20 * time.Millisecond
	initializeTime = 10 * time.Millisecond
	measureTime    = 80 * time.Millisecond
	pollInterval   = 10 * time.Millisecond
)

// MaxReadTime is the longest a read takes, the first included: the start
// sequence (70 ms), the conversion (80 ms) and DefaultOpts' polls (150 ms).
const MaxReadTime = powerUpTime + softResetTime + initializeTime + measureTime + 150*time.Millisecond

// Errors a read can wrap.
var (
	// ErrCRC means the reply did not match its checksum.
	ErrCRC = errors.New("CRC mismatch")
	// ErrBusy means the sensor was still measuring when ReadTimeout ran out.
	ErrBusy = errors.New("still busy")
)

// Opts configures a Dev.
type Opts struct {
	// ReadTimeout bounds how long to keep polling a sensor that is still
	// busy after the 80 ms conversion wait. It must be positive.
	ReadTimeout time.Duration
}

// DefaultOpts gives a busy sensor 150 ms more, which covers the datasheet's
// conversion time with margin.
var DefaultOpts = Opts{ReadTimeout: 150 * time.Millisecond}

// Dev is an AHT20 on an I²C bus. It is safe for concurrent use.
type Dev struct {
	dev  i2c.Dev
	opts Opts
	mu   sync.Mutex
}

var _ sensors.Sensor = (*Dev)(nil)

// NewI2C returns the AHT20 on b. The address is fixed in the device, so addr
// must be DefaultAddr. It follows the datasheet's start sequence: wait out
// the 40 ms power-up, reset the sensor, read its status with a plain read
// and, if the calibration bit is clear, initialise it (0xBE 0x08 0x00).
// Newer batches come up with that bit clear. A nil opts means DefaultOpts.
func NewI2C(b i2c.Bus, addr uint16, opts *Opts) (*Dev, error) {
	if addr != DefaultAddr {
		return nil, fmt.Errorf("aht20: address %#x is not the AHT20's: its address is fixed at 0x38", addr)
	}
	if opts == nil {
		opts = &DefaultOpts
	}
	if opts.ReadTimeout <= 0 {
		return nil, fmt.Errorf("aht20: read timeout %v must be positive", opts.ReadTimeout)
	}
	d := &Dev{dev: i2c.Dev{Bus: b, Addr: addr}, opts: *opts}
	if err := d.start(context.Background()); err != nil {
		return nil, fmt.Errorf("%s: %w", d, err)
	}
	return d, nil
}

// start runs the datasheet's start sequence.
func (d *Dev) start(ctx context.Context) error {
	if err := pause.For(ctx, powerUpTime); err != nil {
		return err
	}
	if err := d.dev.Tx(cmdSoftReset, nil); err != nil {
		return fmt.Errorf("soft reset (is an AHT20 connected?): %w", err)
	}
	if err := pause.For(ctx, softResetTime); err != nil {
		return err
	}
	return d.calibrate(ctx)
}

// calibrate initialises the sensor if its status lacks the calibration bit.
func (d *Dev) calibrate(ctx context.Context) error {
	status, err := d.status()
	if err != nil || status&statusCalibrated != 0 {
		return err
	}
	if err := d.dev.Tx(cmdInitialize, nil); err != nil {
		return fmt.Errorf("initialising: %w", err)
	}
	if err := pause.For(ctx, initializeTime); err != nil {
		return err
	}
	if status, err = d.status(); err != nil {
		return err
	}
	if status&statusCalibrated == 0 {
		return fmt.Errorf("status %#02x: the calibration bit stays clear after initialisation: power the sensor off and on", status)
	}
	return nil
}

// status reads the status byte with a plain read.
func (d *Dev) status() (byte, error) {
	var b [1]byte
	if err := d.dev.Tx(nil, b[:]); err != nil {
		return 0, fmt.Errorf("reading the status: %w", err)
	}
	return b[0], nil
}

// String names the device and where it is, for error messages and logs.
func (d *Dev) String() string {
	return fmt.Sprintf("aht20 at %#x on %s", d.dev.Addr, d.dev.Bus)
}

// Sense measures once and returns "temperature_c" and "humidity_pct". A
// corrupted reply is reported as ErrCRC; a temperature outside -40..85 °C
// as sensors.ErrImplausible. A sensor that lost its calibration is
// initialised again and measured once more.
func (d *Dev) Sense(ctx context.Context) (sensors.Values, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	reply, err := d.measure(ctx)
	if err == nil && reply[0]&statusCalibrated == 0 {
		if err = d.calibrate(ctx); err == nil {
			reply, err = d.measure(ctx)
		}
		if err == nil && reply[0]&statusCalibrated == 0 {
			err = fmt.Errorf("status %#02x: the sensor lost its calibration again: power it off and on", reply[0])
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: read: %w", d, err)
	}
	// Datasheet section 6: RH = S_RH / 2²⁰ × 100 %, T = S_T / 2²⁰ × 200 - 50 °C.
	rawRH := uint32(reply[1])<<12 | uint32(reply[2])<<4 | uint32(reply[3])>>4
	rawT := uint32(reply[3]&0x0f)<<16 | uint32(reply[4])<<8 | uint32(reply[5])
	celsius := float64(rawT)/(1<<20)*200 - 50
	if err := plausible.Temperature(celsius, minCelsius, maxCelsius, 2); err != nil {
		return nil, fmt.Errorf("%s: %w", d, err)
	}
	return sensors.Values{"temperature_c": celsius, "humidity_pct": float64(rawRH) / (1 << 20) * 100}, nil
}

// measure triggers a measurement, waits for it and returns the 7-byte reply
// (status, 5 data bytes, CRC) once the sensor is no longer busy.
func (d *Dev) measure(ctx context.Context) ([]byte, error) {
	if err := d.dev.Tx(cmdMeasure, nil); err != nil {
		return nil, fmt.Errorf("triggering a measurement: %w", err)
	}
	if err := pause.For(ctx, measureTime); err != nil {
		return nil, err
	}
	reply := make([]byte, 7)
	for waited := time.Duration(0); ; waited += pollInterval {
		if err := d.dev.Tx(nil, reply); err != nil {
			return nil, err
		}
		// The CRC is Sensirion's: polynomial 0x31, initial 0xFF.
		if got := sensirion.CRC8(reply[:6]); got != reply[6] {
			return nil, fmt.Errorf("%w: reply % x has CRC %#02x, want %#02x (noise on the bus: check cable length and pull-ups)", ErrCRC, reply, reply[6], got)
		}
		if reply[0]&statusBusy == 0 {
			return reply, nil
		}
		if waited >= d.opts.ReadTimeout {
			return nil, fmt.Errorf("%w %v after the conversion time", ErrBusy, measureTime+waited)
		}
		if err := pause.For(ctx, pollInterval); err != nil {
			return nil, err
		}
	}
}
