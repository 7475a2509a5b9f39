// Package hwmon reads any sensor the Linux kernel drives through its
// hardware monitoring subsystem, from /sys/class/hwmon/hwmonN: on a
// Raspberry Pi, for example, an SHT3x or LM75 loaded with
// dtoverlay=i2c-sensor,sht3x or dtoverlay=i2c-sensor,lm75.
//
// Attributes map to edgepub fields through the units of the hwmon sysfs
// interface: voltage inN_input in millivolts, currN_input in milliamperes,
// powerN_input in microwatts, tempN_input in millidegrees Celsius,
// humidityN_input in milli-percent, fanN_input in RPM.
//
// # Kernel documentation
//
// https://www.kernel.org/doc/html/latest/hwmon/sysfs-interface.html
package hwmon
