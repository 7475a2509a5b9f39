// Package bmxx80 reads the Bosch BMP180, BMP280 and BME280 environmental
// sensors over I²C or SPI (SPI for the BMx280 only) through
// periph.io/x/devices/v3/bmxx80, which detects the model from its chip id.
//
// Each Sense triggers one forced-mode measurement, after which the sensor
// goes back to sleep: the datasheet's recommendation for weather monitoring.
//
// # Datasheets
//
// BME280: https://www.bosch-sensortec.com/media/boschsensortec/downloads/datasheets/bst-bme280-ds002.pdf
//
// BMP280: https://www.bosch-sensortec.com/media/boschsensortec/downloads/datasheets/bst-bmp280-ds001.pdf
//
// BMP180: https://cdn-shop.adafruit.com/datasheets/BST-BMP180-DS000-09.pdf
package bmxx80
