package sgp30

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
	FieldTVOC = "tvoc_ppb"
	FieldECO2 = "eco2_ppm"
)

// Addr is the only address an SGP30 answers at.
const Addr uint16 = 0x58

// WarmUp is how long after Init_air_quality the chip returns fixed values
// (datasheet section 1.2, "Air Quality Signals"), which Sense reports as
// sensors.ErrWarmingUp.
const WarmUp = 15 * time.Second

// ProductType is an SGP30's in the top four bits of its feature set
// (datasheet table "Get_feature_set_version").
const ProductType = 0

// Cadence is how often measure_iaq must be sent: the chip's dynamic baseline
// compensation assumes one measurement per second (datasheet section 1.2).
const Cadence = time.Second

// Commands and their maximum durations, datasheet table "Measurement
// commands".
const (
	cmdIAQInit            = 0x2003
	cmdMeasureIAQ         = 0x2008
	cmdGetFeatureSet      = 0x202f
	initDuration          = 10 * time.Millisecond
	measureDuration       = 12 * time.Millisecond
	featureSetDuration    = 10 * time.Millisecond
	warmUpECO2, warmUpVOC = 400, 0
	maxOutput             = 60000
)

// Opts configures the sensor. It has no fields yet; it keeps NewI2C's
// signature that of the other drivers.
type Opts struct{}

// DefaultOpts returns the options used for a nil *Opts.
func DefaultOpts() Opts { return Opts{} }

// Dev is one SGP30 running its air quality algorithm.
type Dev struct {
	dev     i2c.Dev
	started time.Time
	// lastMeasure is when measure_iaq was last sent; zero before the first.
	lastMeasure time.Time
	version     byte
	mu          sync.Mutex
}

var _ sensors.Sensor = (*Dev)(nil)

// NewI2C checks that the chip at addr is an SGP30 and starts its air quality
// algorithm.
func NewI2C(ctx context.Context, bus i2c.Bus, addr uint16, opts *Opts) (*Dev, error) {
	d := &Dev{dev: i2c.Dev{Bus: bus, Addr: addr}}
	fs, err := d.command(ctx, cmdGetFeatureSet, featureSetDuration, 1)
	if err != nil {
		return nil, fmt.Errorf("%s: no answer reading the feature set: %w", d, err)
	}
	if product := fs[0] >> 12; product != ProductType {
		return nil, fmt.Errorf("%s: product type %d is not an SGP30 (0): check the address", d, product)
	}
	d.version = byte(fs[0])
	if _, err := d.command(ctx, cmdIAQInit, initDuration, 0); err != nil {
		return nil, fmt.Errorf("%s: starting the air quality algorithm: %w", d, err)
	}
	d.started = time.Now()
	return d, nil
}

// String names the sensor and its bus.
func (d *Dev) String() string {
	return fmt.Sprintf("sgp30 at %#02x on %s", d.dev.Addr, d.dev.Bus)
}

// Version returns the sensor's feature set version.
func (d *Dev) Version() byte { return d.version }

// Sense measures tvoc_ppb and eco2_ppm. It must be called every second
// (Cadence), warm-up included: in the 15 s after start the chip returns the
// fixed values 400 ppm and 0 ppb, which Sense skips with an error wrapping
// sensors.ErrWarmingUp. A call sooner than Cadence after the last waits
// out the rest.
func (d *Dev) Sense(ctx context.Context) (sensors.Values, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	// Keep the cadence even when called early, as right after NewI2C.
	if !d.lastMeasure.IsZero() {
		if early := Cadence - time.Now().Sub(d.lastMeasure); early > 0 {
			if err := pause.For(ctx, early); err != nil {
				return nil, fmt.Errorf("%s: waiting for the next 1 s step of the cadence: %w", d, err)
			}
		}
	}
	d.lastMeasure = time.Now()
	w, err := d.command(ctx, cmdMeasureIAQ, measureDuration, 2)
	if err != nil {
		return nil, fmt.Errorf("%s: measuring: %w", d, err)
	}
	eco2, tvoc := w[0], w[1]
	if eco2 == warmUpECO2 && tvoc == warmUpVOC && time.Now().Sub(d.started) < WarmUp {
		return nil, fmt.Errorf("%s: the sensor gives the fixed values 400 ppm, 0 ppb for %v after start, which edgepub skips: %w", d, WarmUp, sensors.ErrWarmingUp)
	}
	if eco2 < warmUpECO2 || eco2 > maxOutput || tvoc > maxOutput {
		return nil, fmt.Errorf("%s: %d ppm eCO2, %d ppb TVOC is outside the output range: %w", d, eco2, tvoc, sensors.ErrImplausible)
	}
	return sensors.Values{FieldECO2: float64(eco2), FieldTVOC: float64(tvoc)}, nil
}

// Spacing is the cadence the air quality algorithm needs.
func (d *Dev) Spacing() time.Duration { return Cadence }

// command sends cmd, waits its duration and reads n words, checking each
// word's CRC.
func (d *Dev) command(ctx context.Context, cmd uint16, dur time.Duration, n int) ([]uint16, error) {
	return sensirion.ReadWords(ctx, &d.dev, pause.For, []byte{byte(cmd >> 8), byte(cmd)}, dur, n)
}
