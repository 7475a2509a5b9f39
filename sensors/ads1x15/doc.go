// Package ads1x15 reads the single-ended inputs of a Texas Instruments
// ADS1115 (16-bit) or ADS1015 (12-bit) analog-to-digital converter over I²C
// for edgepub, and maps each input's voltage to a named quantity:
//
//	value = volts*Scale + Offset
//
// so that a 0..3.3 V humidity transmitter on AIN0 can be published as
// humidity_pct and a voltage divider on AIN1 as battery_v.
//
// Each Sense runs one single-shot conversion per configured channel: it
// writes the configuration, waits one conversion period plus the ±10 %
// tolerance of the converter's clock (the wait honours the context), checks
// that the conversion is done and reads it. A reading at either end of the
// chosen range means the input is clipped; it is reported as
// sensors.ErrImplausible with a hint to lower the gain.
//
// periph.io/x/devices/v3/ads1x15 drives the same chips but sleeps with
// time.Sleep for exactly the nominal period, which the datasheet allows the
// converter to exceed by 10 %.
//
// # Datasheets
//
// https://www.ti.com/lit/ds/symlink/ads1115.pdf
//
// https://www.ti.com/lit/ds/symlink/ads1015.pdf
package ads1x15
