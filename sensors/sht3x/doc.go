// Package sht3x reads the Sensirion SHT30, SHT31 and SHT35 temperature and
// humidity sensors over I²C.
//
// It uses the single-shot commands without clock stretching: the Pi's I²C
// controller mishandles a slave that holds SCL low, so the driver waits the
// datasheet's maximum measurement duration itself and then reads two 16-bit
// words, each followed by a CRC-8.
//
// The kernel's sht3x hwmon driver (dtoverlay=i2c-sensor,sht3x) serves too;
// use this package when the kernel overlay is not an option.
//
// # Datasheet
//
// https://sensirion.com/media/documents/213E6A3B/63A5A569/Datasheet_SHT3x_DIS.pdf
package sht3x
