// Package bh1750 reads a ROHM BH1750FVI ambient light sensor over I²C for
// edgepub, as illuminance_lux.
//
// Every Sense starts a one-time measurement, waits the datasheet's maximum
// measurement time (the wait honours the context) and reads the result; the
// sensor powers itself down in between, drawing under 1 µA.
//
// The address is 0x23 with the ADDR pin low (most breakout boards) or 0x5c
// with it high.
//
// # Datasheet
//
// https://www.mouser.com/datasheet/2/348/bh1750fvi-e-186247.pdf
package bh1750
