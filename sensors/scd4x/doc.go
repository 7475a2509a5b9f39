// Package scd4x reads a Sensirion SCD40 or SCD41 photoacoustic CO₂ sensor
// over I²C for edgepub: co2_ppm, temperature_c and humidity_pct.
//
// NewI2C puts the sensor into periodic measurement, in which it measures by
// itself every 5 s (every 30 s in low-power mode), the first 5 s after the
// start. Until then Sense returns a *sensors.WarmingUp at once, which the
// Runner does not count as a failure and which tells it when to read again,
// so that the first reading comes about 5.5 s after opening whatever the
// interval; after it, Sense waits,
// honouring the context, until the sensor flags a fresh measurement. The
// Dev's Spacing is the period: the Runner spaces samples by it, and
// edgepub's configuration check refuses an interval or samples that would
// read faster.
//
// Every word the sensor sends carries a CRC-8 that is checked. A CO₂ value of
// 0 ppm is what the sensor reports for a sample it could not measure
// (Sensirion's own drivers skip it); it, and anything above the 40000 ppm
// output range, is reported as sensors.ErrImplausible.
//
// periph.io/x/devices/v3/scd4x drives the same chip, but it sleeps with
// time.Sleep for up to 6 s without a way to cancel, so this package speaks
// the protocol itself.
//
// # Datasheet
//
// https://sensirion.com/media/documents/48C4B7FB/64C134E7/Sensirion_SCD4x_Datasheet.pdf
package scd4x
