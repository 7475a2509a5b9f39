package bme680

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/edgepub/edgepub/sensors"
	"github.com/edgepub/edgepub/sensors/internal/pause"
	"github.com/edgepub/edgepub/sensors/internal/plausible"
	"periph.io/x/conn/v3/i2c"
)

// DefaultAddr is the address with SDO low; SDO high makes it 0x77.
const DefaultAddr uint16 = 0x76

// Registers (datasheet, table 20 memory map).
const (
	regChipID    = 0xD0
	regVariantID = 0xF0
	regReset     = 0xE0
	regCoeff1    = 0x8A // 23 bytes
	regCoeff2    = 0xE1 // 14 bytes
	regCoeff3    = 0x00 // 5 bytes: res_heat_val, res_heat_range, range_switching_error
	regCtrlGas1  = 0x71
	regCtrlHum   = 0x72
	regCtrlMeas  = 0x74
	regGasWait0  = 0x64
	regResHeat0  = 0x5A
	regField0    = 0x1D // 17 bytes: status, data, gas (both variants)

	chipID        = 0x61
	resetCommand  = 0xB6
	variantBME688 = 0x01
)

// Oversampling codes for ctrl_hum and ctrl_meas: ×2 temperature, ×16
// pressure, ×1 humidity, the datasheet's quick start (section 3.2.1).
const (
	osrsT = 0b010
	osrsP = 0b101
	osrsH = 0b001
	// measCycles is 2 + 16 + 1 conversions of 1.963 ms each.
	measCycles = 2 + 16 + 1
)

// Waits: the reset takes up to 10 ms (section 5.3.1.1 "Reset"); a forced
// measurement takes its conversions, the gas measurement and the heater's
// step. The extra 5 ms cover the TPH switching and wake-up time.
const (
	waitReset  = 10 * time.Millisecond
	pollPeriod = 10 * time.Millisecond
	pollTries  = 5
)

// Heater is one heater step: the hot plate is held at TargetC for Duration
// before the gas resistance is measured.
type Heater struct {
	// TargetC is the plate's temperature, 200..400 °C.
	TargetC float64
	// Duration is how long it is held, 1 ms .. 4032 ms; 20..30 ms reach
	// the temperature, longer steps give steadier readings.
	Duration time.Duration
}

// Opts configures a Dev.
type Opts struct {
	// Heater is the heater step of every measurement.
	Heater Heater
}

// DefaultOpts heats to 300 °C for 100 ms, the datasheet's example profile.
var DefaultOpts = Opts{Heater: Heater{TargetC: 300, Duration: 100 * time.Millisecond}}

// CheckOpts reports what NewI2C would refuse in opts, without a bus.
func CheckOpts(opts *Opts) error {
	if opts == nil {
		return nil
	}
	h := opts.Heater
	if h.TargetC < 200 || h.TargetC > 400 {
		return fmt.Errorf("heater temperature %g °C is outside 200..400 °C", h.TargetC)
	}
	if h.Duration < time.Millisecond || h.Duration > 4032*time.Millisecond {
		return fmt.Errorf("heater duration %v is outside 1ms..4.032s", h.Duration)
	}
	return nil
}

// Dev is a BME680 or BME688. It is safe for concurrent use.
type Dev struct {
	d       i2c.Dev
	opts    Opts
	bme688  bool
	cal     calibration
	ambient float64 // last temperature, for the heater resistance
	wait    time.Duration

	mu sync.Mutex
}

var _ sensors.Sensor = (*Dev)(nil)

// NewI2C resets the BME680/BME688 at addr (0x76 or 0x77) on b, reads its
// calibration and sets up the heater. A nil opts means DefaultOpts.
func NewI2C(b i2c.Bus, addr uint16, opts *Opts) (*Dev, error) {
	if opts == nil {
		opts = &DefaultOpts
	}
	d := &Dev{d: i2c.Dev{Bus: b, Addr: addr}, opts: *opts, ambient: 25}
	if addr != 0x76 && addr != 0x77 {
		return nil, fmt.Errorf("%s: address must be 0x76 or 0x77 (set by the SDO pin)", d)
	}
	if err := CheckOpts(opts); err != nil {
		return nil, fmt.Errorf("%s: %w", d, err)
	}
	h := d.opts.Heater
	if err := d.setUp(); err != nil {
		return nil, fmt.Errorf("%s: %w", d, err)
	}
	d.wait = time.Duration(measCycles)*1963*time.Microsecond + 5*time.Millisecond + gasWaitDuration(h.Duration)
	return d, nil
}

func (d *Dev) setUp() error {
	var id [1]byte
	if err := d.d.Tx([]byte{regChipID}, id[:]); err != nil {
		return fmt.Errorf("read chip id (is a BME680 connected at this address?): %w", err)
	}
	if id[0] != chipID {
		return fmt.Errorf("chip id %#02x is not a BME680/688's 0x61 (a BME280 has 0x60: use type bme280)", id[0])
	}
	if err := d.d.Tx([]byte{regReset, resetCommand}, nil); err != nil {
		return fmt.Errorf("soft reset: %w", err)
	}
	// The constructor has no caller context; the wait is 10 ms.
	if err := pause.For(context.Background(), waitReset); err != nil {
		return err
	}
	var variant [1]byte
	if err := d.d.Tx([]byte{regVariantID}, variant[:]); err != nil {
		return fmt.Errorf("read variant id: %w", err)
	}
	d.bme688 = variant[0] == variantBME688
	var c1 [23]byte
	var c2 [14]byte
	var c3 [5]byte
	for _, r := range []struct {
		reg byte
		buf []byte
	}{{regCoeff1, c1[:]}, {regCoeff2, c2[:]}, {regCoeff3, c3[:]}} {
		if err := d.d.Tx([]byte{r.reg}, r.buf); err != nil {
			return fmt.Errorf("read calibration at %#02x: %w", r.reg, err)
		}
	}
	d.cal = parseCalibration(c1, c2, c3)
	// run_gas is bit 4 on the BME680 and bits 5:4 = 0b10 on the BME688
	// (BME688 datasheet, ctrl_gas_1); nb_conv 0 selects heater step 0.
	runGas := byte(0x10)
	if d.bme688 {
		runGas = 0x20
	}
	for _, w := range [][]byte{
		{regCtrlHum, osrsH},
		{regGasWait0, gasWait(d.opts.Heater.Duration)},
		{regCtrlGas1, runGas},
	} {
		if err := d.d.Tx(w, nil); err != nil {
			return fmt.Errorf("write register %#02x: %w", w[0], err)
		}
	}
	return nil
}

// String names the device and where it is.
func (d *Dev) String() string {
	return fmt.Sprintf("bme680 at %#x on %s", d.d.Addr, d.d.Bus)
}

// Model is "BME680" or "BME688".
func (d *Dev) Model() string {
	if d.bme688 {
		return "BME688"
	}
	return "BME680"
}

// Sense runs one forced measurement and returns "temperature_c",
// "pressure_hpa", "humidity_pct" and, when the heater reached its target
// and the gas reading is valid, "gas_ohm".
func (d *Dev) Sense(ctx context.Context) (sensors.Values, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	heat := d.cal.heaterResistance(d.opts.Heater.TargetC, d.ambient)
	for _, w := range [][]byte{
		{regResHeat0, heat},
		{regCtrlMeas, osrsT<<5 | osrsP<<2 | 0b01}, // forced mode
	} {
		if err := d.d.Tx(w, nil); err != nil {
			return nil, fmt.Errorf("%s: write register %#02x: %w", d, w[0], err)
		}
	}
	if err := pause.For(ctx, d.wait); err != nil {
		return nil, fmt.Errorf("%s: wait for measurement: %w", d, err)
	}
	var f [17]byte
	for try := 0; ; try++ {
		if err := d.d.Tx([]byte{regField0}, f[:]); err != nil {
			return nil, fmt.Errorf("%s: read data: %w", d, err)
		}
		if f[0]&0x80 != 0 { // new_data_0
			break
		}
		if try == pollTries {
			return nil, fmt.Errorf("%s: no new data %v after starting a measurement (status %#02x): the chip may have reset; check its supply", d, d.wait+pollTries*pollPeriod, f[0])
		}
		if err := pause.For(ctx, pollPeriod); err != nil {
			return nil, fmt.Errorf("%s: wait for measurement: %w", d, err)
		}
	}
	pressAdc := uint32(f[2])<<12 | uint32(f[3])<<4 | uint32(f[4])>>4
	tempAdc := uint32(f[5])<<12 | uint32(f[6])<<4 | uint32(f[7])>>4
	humAdc := uint32(binary.BigEndian.Uint16(f[8:10]))
	celsius, tFine := d.cal.temperature(tempAdc)
	if err := plausible.Temperature(celsius, -40, 85, 2); err != nil {
		return nil, fmt.Errorf("%s: %w", d, err)
	}
	d.ambient = celsius
	v := sensors.Values{
		"temperature_c": celsius,
		"pressure_hpa":  d.cal.pressure(pressAdc, tFine) / 100,
		"humidity_pct":  d.cal.humidity(humAdc, celsius),
	}
	gas := f[13:15]
	if d.bme688 {
		gas = f[15:17]
	}
	adc := uint16(gas[0])<<2 | uint16(gas[1])>>6
	valid, stable, gasRange := gas[1]&0x20 != 0, gas[1]&0x10 != 0, gas[1]&0x0F
	if valid && stable {
		if d.bme688 {
			v["gas_ohm"] = gasResistance688(adc, gasRange)
		} else {
			v["gas_ohm"] = d.cal.gasResistance680(adc, gasRange)
		}
	}
	return v, nil
}

// gasWait encodes a heater duration for gas_wait_x (section 5.3.3.3): six
// bits of milliseconds and a multiplier of 1, 4, 16 or 64 in the top two.
func gasWait(dur time.Duration) byte {
	ms := dur.Milliseconds()
	if ms >= 0xFC0 {
		return 0xFF
	}
	var factor byte
	for ms > 0x3F {
		ms /= 4
		factor++
	}
	return byte(ms) | factor<<6
}

// gasWaitDuration is the time gasWait(dur) really encodes.
func gasWaitDuration(dur time.Duration) time.Duration {
	w := gasWait(dur)
	return time.Duration(int64(w&0x3F)<<(2*(w>>6))) * time.Millisecond
}
