// Package tsl2591 reads the ams TSL2591 ambient light sensor over I²C.
//
// The chip integrates two photodiodes at once, channel 0 (visible and
// infrared) and channel 1 (infrared only), over 100 to 600 ms at one of
// four gains, and keeps the last result in C0DATA and C1DATA. Sense waits
// for the first integration after power-on, checks the status register's
// AVALID bit, reads both channels in one transfer and turns them into lux
// with the formula of the Linux kernel's tsl2591 driver and Adafruit's
// library (ams publishes no lux equation for the chip):
//
//	CPL = ATIME_ms × AGAIN / 408
//	lux = (C0 − C1) × (1 − C1/C0) / CPL
//
// with AGAIN 1, 25, 428 or 9876 for the low, medium, high and maximum
// gains. A channel at its maximum count (36863 at 100 ms, 65535 at longer
// integration times) is saturated: Sense fails and says to lower the gain
// or the integration time rather than report too little light.
//
// NewI2C checks the ID register (0x12) for the datasheet's 0x50 before it
// writes anything, so that another chip at 0x29 (a TSL2561, a TCS34725, a
// VL53L0X) is refused. Every register access goes through the COMMAND
// byte: CMD (bit 7) and a normal transaction (bits 6:5 = 01), 0xA0, ORed
// with the register address.
//
// # Datasheet
//
// ams TSL2591 datasheet (DS000338), https://ams.com/tsl25911, sections
// "Register Description"; the lux formula and gains as in Linux
// drivers/iio/light/tsl2591.c and
// https://github.com/adafruit/Adafruit_TSL2591_Library.
package tsl2591
