// Package aht20 reads the Aosong AHT20 temperature and humidity sensor over
// I²C through periph.io/x/devices/v3/aht20.
//
// A read takes at least 80 ms: periph triggers a measurement, sleeps, then
// polls until the sensor is no longer busy. That wait cannot be interrupted,
// so ctx is only checked before the bus is touched.
//
// # Datasheet
//
// http://www.aosong.com/userfiles/files/media/Data%20Sheet%20AHT20.pdf
package aht20
