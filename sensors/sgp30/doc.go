// Package sgp30 reads a Sensirion SGP30 metal-oxide gas sensor over I²C for
// edgepub: tvoc_ppb (total volatile organic compounds) and eco2_ppm (a CO₂
// equivalent the sensor derives from hydrogen, not a CO₂ measurement).
//
// The sensor's on-chip baseline compensation expects a measurement every
// second (Cadence): the sensor is configured with an interval of 1s, which
// edgepub's configuration check insists on, and Sense waits out the rest of
// the second if called early. Thin out what is published with deadband and
// heartbeat.
//
// For 15 s after NewI2C starts the algorithm (WarmUp), the sensor answers
// with the fixed values 400 ppm and 0 ppb; Sense skips these with an error
// wrapping sensors.ErrWarmingUp, which the Runner neither publishes nor
// counts as a failure. Values outside the output range (eCO₂ 400..60000
// ppm, TVOC 0..60000 ppb) are reported as sensors.ErrImplausible. Every
// word the sensor sends carries a CRC-8 that is checked.
//
// The baseline the sensor learns is not stored: after a restart it takes the
// sensor up to 12 hours to settle again.
//
// periph.io/x/devices/v3/sgp30 drives the same chip, but its constructor
// sleeps 20 s and starts a goroutine that logs on its own, and it does not
// check CRCs; this package speaks the protocol itself. The CCS811 is not
// supported: it needs I²C clock stretching, which the Raspberry Pi's
// controller gets wrong.
//
// # Datasheet
//
// https://sensirion.com/media/documents/984E0DD5/61644B8B/Sensirion_Gas_Sensors_Datasheet_SGP30.pdf
package sgp30
