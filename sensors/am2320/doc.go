// Package am2320 reads the Aosong AM2320 temperature and humidity sensor over
// I²C.
//
// periph.io/x/devices/v3/am2320 (v3.7.4) exists but is not used: it decodes
// negative temperatures as two's complement although the device sends sign
// and magnitude (-10.1 °C arrives as 0x8065, which it reads as -3266.7 °C),
// and it retries internally for up to 20 s with sleeps nothing can
// interrupt. This driver does one wake-up, one read command and one read,
// with waits that honour the context, and leaves retries to the caller.
//
// The sensor sleeps between reads and answers each read with the values it
// measured when it was last woken, so a reading is as old as the interval
// between reads. Read it at most every 2 s (datasheet p. 17).
//
// # Datasheet
//
// https://cdn-shop.adafruit.com/product-files/3721/AM2320.pdf
package am2320
