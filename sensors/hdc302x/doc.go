// Package hdc302x reads the Texas Instruments HDC3020, HDC3021 and HDC3022
// temperature and humidity sensors over I²C through
// periph.io/x/devices/v3/hdc302x.
//
// The sensor runs in its own continuous measurement mode and Sense reads the
// latest result, so a read is quick (one transaction); creating the Dev, or
// reading after Halt, waits one sample period for the first result. NewI2C
// first ends a measurement mode a crashed program left running. Each result
// can be read once; a second read gets the chip's minimum values, which
// Sense reports as an error, and the Dev's Spacing (the sample period) keeps
// the Runner's samples apart.
//
// # Datasheet
//
// https://www.ti.com/lit/ds/symlink/hdc3022.pdf
package hdc302x
