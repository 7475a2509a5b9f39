// Package ina219 reads a Texas Instruments INA219 current and power monitor
// over I²C for edgepub: voltage_v (the bus voltage at VIN−, i.e. at the
// load), current_a through the shunt and power_w, their product.
//
// The current is computed from the shunt voltage register and the shunt
// resistance given in Opts rather than read from the chip's current
// register, which depends on a calibration value the chip forgets on any
// brown-out. Opts.MaxCurrentA selects the smallest shunt voltage range
// (±40, 80, 160 or 320 mV) that covers it, for the best resolution. A shunt
// voltage at the end of that range means the current is clipped; it is
// reported as sensors.ErrImplausible rather than published.
//
// The chip runs in continuous mode (1 mA) and Sense reads its latest
// conversion, so a read takes a few hundred microseconds and never waits.
//
// periph.io/x/devices/v3/ina219 drives the same chip but replaces every bus
// error with a fixed message, which hides a NACK from the operator.
//
// # Datasheet
//
// https://www.ti.com/lit/ds/symlink/ina219.pdf
package ina219
