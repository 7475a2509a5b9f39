// Package bme680 reads the Bosch BME680 and BME688 environmental sensors
// over I²C: temperature, pressure, humidity and the resistance of the
// heated metal-oxide gas sensor.
//
// Each Sense runs one forced measurement with one heater step (by default
// 300 °C for 100 ms, the datasheet's example) and compensates the raw
// values with Bosch's floating-point formulas from the datasheet (section
// 3.3). The gas resistance is published as it is, in ohms: turning it into
// an air quality index needs Bosch's closed-source BSEC library, which
// edgepub does not use.
//
// The kernel's bme680 IIO driver (dtoverlay=i2c-sensor,bme680) serves too;
// use this package to choose the heater profile.
//
// # Datasheet
//
// https://www.bosch-sensortec.com/media/boschsensortec/downloads/datasheets/bst-bme680-ds001.pdf
package bme680
