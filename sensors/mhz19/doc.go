// Package mhz19 reads the Winsen MH-Z19B and MH-Z19C NDIR CO₂ sensors over
// a UART at 9600 baud.
//
// Every read sends command 0x86 and takes the 9-byte answer that starts
// 0xFF 0x86 and ends with a checksum (the two's complement of the sum of
// bytes 1..7). The automatic baseline correction (ABC) is set when the port
// is opened, and has no default here: ABC assumes the sensor sees fresh
// air (400 ppm) at least once a day, which is true in an office and false
// in a greenhouse or a bedroom, so the caller must choose.
//
// The sensor needs 3 minutes of preheating after power-up; readings before
// that are not accurate (datasheet, "Preheat time").
//
// # Datasheet
//
// https://www.winsen-sensor.com/d/files/infrared-gas-sensor/mh-z19b-co2-ver1_0.pdf
package mhz19
