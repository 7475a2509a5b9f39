// Package tmp102 reads the Texas Instruments TMP102 temperature sensor over
// I²C through periph.io/x/devices/v3/tmp102.
//
// The sensor converts continuously; its temperature register holds 0 °C
// after power-up and the last value before a shutdown, so the first Sense
// after NewI2C or Halt waits one conversion (35 ms at most) before reading.
//
// # Datasheet
//
// https://www.ti.com/lit/ds/symlink/tmp102.pdf
package tmp102
