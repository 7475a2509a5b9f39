package scd4x

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/edgepub/edgepub/sensors"
	"github.com/edgepub/edgepub/sensors/internal/pause"
	"github.com/edgepub/edgepub/sensors/internal/sensirion"
	"periph.io/x/conn/v3/i2c"
)

// Names of the values the sensor reports.
const (
	FieldCO2         = "co2_ppm"
	FieldTemperature = "temperature_c"
	FieldHumidity    = "humidity_pct"
)

// Addr is the only address an SCD4x answers at.
const Addr uint16 = 0x62

// Period is how often the sensor measures in periodic mode (datasheet
// section 3.5, start_periodic_measurement): the first result comes one
// period after the start, and a read sooner than that gets none.
const Period = 5 * time.Second

// WarmUp is how long after the start Sense may report
// sensors.ErrWarmingUp: one period, and a fifth of it for the chip's clock
// tolerance.
const WarmUp = Period + Period/5

// maxCO2 is the top of the sensor's output range.
const maxCO2 = 40000

// Commands and their execution times, datasheet section "Sensor Commands".
const (
	cmdStartPeriodic         = 0x21b1
	cmdStartLowPowerPeriodic = 0x21ac
	cmdStopPeriodic          = 0x3f86
	cmdReadMeasurement       = 0xec05
	cmdGetDataReadyStatus    = 0xe4b8
	cmdGetSerialNumber       = 0x3682
	cmdSetSensorAltitude     = 0x2427

	stopDuration    = 500 * time.Millisecond
	commandDuration = time.Millisecond
)

// Opts configures the sensor. The zero Opts is DefaultOpts.
type Opts struct {
	// LowPower selects low-power periodic measurement: one measurement
	// every 30 s instead of every 5 s, 3.2 mA instead of 15 mA on average.
	LowPower bool
	// AltitudeM is the sensor's height above sea level in metres, which the
	// sensor uses to compensate CO₂ for the air pressure. 0 leaves the
	// sensor's stored setting (0 m unless changed).
	AltitudeM int
	// Poll is how often Sense asks whether a measurement is ready.
	Poll time.Duration
	// Now tells the time, to know when the warm-up after the start ends.
	// Nil means time.Now.
	Now func() time.Time
	// Sleep waits between commands and polls. Nil means a timer that returns
	// ctx.Err() as soon as ctx is done; tests inject one that returns at once.
	Sleep func(ctx context.Context, d time.Duration) error
}

// DefaultOpts returns the options used for a nil *Opts: periodic
// measurement every 5 s at the stored altitude, polled every 250 ms.
func DefaultOpts() Opts { return Opts{Poll: 250 * time.Millisecond, Now: time.Now} }

// Dev is one SCD4x in periodic measurement.
type Dev struct {
	dev     i2c.Dev
	serial  uint64
	period  time.Duration
	poll    time.Duration
	sleep   func(ctx context.Context, d time.Duration) error
	now     func() time.Time
	started time.Time
	mu      sync.Mutex
}

var _ sensors.Sensor = (*Dev)(nil)

// NewI2C stops any measurement the sensor was running, reads its serial
// number to check that it answers, sets the altitude if opts asks for it and
// starts periodic measurement. It takes over half a second, which ctx can cut
// short.
func NewI2C(ctx context.Context, bus i2c.Bus, addr uint16, opts *Opts) (*Dev, error) {
	o := DefaultOpts()
	if opts != nil {
		o = *opts
		if o.Poll <= 0 {
			o.Poll = DefaultOpts().Poll
		}
	}
	if o.Sleep == nil {
		o.Sleep = pause.For
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.AltitudeM < 0 || o.AltitudeM > 3000 {
		return nil, fmt.Errorf("scd4x at %#02x on %s: altitude %d m is outside the sensor's 0..3000 m", addr, bus, o.AltitudeM)
	}
	d := &Dev{dev: i2c.Dev{Bus: bus, Addr: addr}, poll: o.Poll, sleep: o.Sleep, now: o.Now, period: Period}
	if err := d.init(ctx, o); err != nil {
		return nil, fmt.Errorf("%s: %w", d, err)
	}
	return d, nil
}

func (d *Dev) init(ctx context.Context, o Opts) error {
	// The sensor ignores most commands during periodic measurement, which
	// it keeps running across a restart of edgepub; stopping is always safe.
	if err := d.dev.Tx(word(cmdStopPeriodic), nil); err != nil {
		return fmt.Errorf("no answer: %w", err)
	}
	if err := d.sleep(ctx, stopDuration); err != nil {
		return err
	}
	serial, err := d.read(ctx, cmdGetSerialNumber, 3)
	if err != nil {
		return fmt.Errorf("reading the serial number: %w", err)
	}
	d.serial = uint64(serial[0])<<32 | uint64(serial[1])<<16 | uint64(serial[2])
	if o.AltitudeM != 0 {
		if err := d.dev.Tx(wordWithArg(cmdSetSensorAltitude, uint16(o.AltitudeM)), nil); err != nil {
			return fmt.Errorf("setting the altitude: %w", err)
		}
		if err := d.sleep(ctx, commandDuration); err != nil {
			return err
		}
	}
	start := uint16(cmdStartPeriodic)
	if o.LowPower {
		start, d.period = cmdStartLowPowerPeriodic, 30*time.Second
	}
	if err := d.dev.Tx(word(start), nil); err != nil {
		return fmt.Errorf("starting periodic measurement: %w", err)
	}
	d.started = d.now()
	return nil
}

// Spacing is the measurement period: a read sooner than one period after
// the last gets no new measurement.
func (d *Dev) Spacing() time.Duration { return d.period }

// String names the sensor and its bus.
func (d *Dev) String() string {
	return fmt.Sprintf("scd4x at %#02x on %s", d.dev.Addr, d.dev.Bus)
}

// Serial returns the sensor's 48-bit serial number.
func (d *Dev) Serial() uint64 { return d.serial }

// Sense returns the latest measurement's co2_ppm, temperature_c and
// humidity_pct, waiting for it if it is not ready yet. Until the first
// measurement after the start (one period, with a fifth for the chip's
// clock tolerance) it returns an error wrapping sensors.ErrWarmingUp at once
// instead of waiting.
func (d *Dev) Sense(ctx context.Context) (sensors.Values, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.waitReady(ctx); err != nil {
		return nil, fmt.Errorf("%s: %w", d, err)
	}
	w, err := d.read(ctx, cmdReadMeasurement, 3)
	if err != nil {
		return nil, fmt.Errorf("%s: reading the measurement: %w", d, err)
	}
	co2 := float64(w[0])
	if w[0] == 0 || co2 > maxCO2 {
		return nil, fmt.Errorf("%s: co2 %v ppm is not a measurement (0 marks an invalid sample; the range ends at %d): %w",
			d, co2, maxCO2, sensors.ErrImplausible)
	}
	return sensors.Values{
		FieldCO2:         co2,
		FieldTemperature: -45 + 175*float64(w[1])/65535,
		FieldHumidity:    100 * float64(w[2]) / 65535,
	}, nil
}

// Halt stops periodic measurement, which lowers the sensor's draw to 0.2 mA.
func (d *Dev) Halt() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.dev.Tx(word(cmdStopPeriodic), nil); err != nil {
		return fmt.Errorf("%s: stopping periodic measurement: %w", d, err)
	}
	return nil
}

// waitReady polls the data-ready flag until a measurement is waiting.
func (d *Dev) waitReady(ctx context.Context) error {
	for {
		w, err := d.read(ctx, cmdGetDataReadyStatus, 1)
		if err != nil {
			return fmt.Errorf("reading the data-ready status: %w", err)
		}
		if w[0]&0x07ff != 0 {
			return nil
		}
		if since := d.now().Sub(d.started); since < d.period+d.period/5 {
			// Saying when lets the Runner read right then, rather than
			// an interval later; past the period, the chip's clock is
			// late and is asked again after a poll.
			return &sensors.WarmingUp{Reason: fmt.Sprintf("the first measurement comes %v after the start", d.period), ReadyIn: max(d.period-since, d.poll)}
		}
		if err := d.sleep(ctx, d.poll); err != nil {
			return fmt.Errorf("no measurement ready (the sensor gives one every %v: make the timeout longer than that): %w", d.period, err)
		}
	}
}

// read sends a command, waits its execution time and reads n words, checking
// each word's CRC.
func (d *Dev) read(ctx context.Context, cmd uint16, n int) ([]uint16, error) {
	return sensirion.ReadWords(ctx, &d.dev, d.sleep, word(cmd), commandDuration, n)
}

// word encodes a command.
func word(cmd uint16) []byte { return []byte{byte(cmd >> 8), byte(cmd)} }

// wordWithArg encodes a command with one argument word and its CRC.
func wordWithArg(cmd, arg uint16) []byte {
	return append(word(cmd), sensirion.EncodeWords(arg)...)
}
