// Package iio reads any sensor the Linux kernel drives through its
// Industrial I/O subsystem, from /sys/bus/iio/devices/iio:deviceN.
//
// On a Raspberry Pi one dtoverlay line loads the driver, for example
// dtoverlay=dht11,gpiopin=4 or dtoverlay=i2c-sensor,bme680. The kernel then
// does the bus timing, which for the DHT11/DHT22's microsecond pulses a Go
// program in user space cannot do reliably.
//
// Each channel maps to an edgepub field through the units the ABI gives:
// temperature in milli-°C, relative humidity in milli-percent, pressure in
// kPa, voltage in mV, current in mA, power in mW, concentration in percent.
// A channel's _input file is already in those units; otherwise the value is
// (_raw + _offset) × _scale.
//
// # Kernel documentation
//
// https://www.kernel.org/doc/Documentation/ABI/testing/sysfs-bus-iio
package iio
