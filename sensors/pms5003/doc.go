// Package pms5003 reads the Plantower PMS5003 particulate matter sensor
// (and the PMS7003 and PMSA003, which speak the same protocol) over a UART
// at 9600 baud.
//
// The sensor is put in passive mode when the port is opened, so it sends a
// 32-byte data frame (0x42 0x4D, length 28, 13 data words, a 16-bit sum
// check) only when asked; the driver skips whatever precedes a frame's
// header and rejects a frame whose sum does not match.
//
// The fan needs about 30 s after power-up before readings are stable
// (datasheet, "stable data should be got at least 30 seconds after the
// sensor wakeup").
//
// # Datasheet
//
// https://www.aqmd.gov/docs/default-source/aq-spec/resources-page/plantower-pms5003-manual_v2-3.pdf
package pms5003
