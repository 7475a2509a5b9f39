// Package aht20 reads the Aosong AHT20 temperature and humidity sensor over
// I²C.
//
// It is edgepub's own driver rather than periph.io/x/devices/v3/aht20,
// which fails every read of a sensor whose calibration bit is clear, as on
// newer batches, and never resets it. This one follows the current
// datasheet's start sequence (40 ms power-up wait, soft reset, status by a
// plain read, initialisation when the calibration bit is clear) and
// initialises a sensor again that lost its calibration. Every wait honours
// ctx.
//
// # Datasheet
//
// http://www.aosong.com/userfiles/files/media/Data%20Sheet%20AHT20.pdf
package aht20
