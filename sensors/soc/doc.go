// Package soc reads the temperature of the system-on-chip, a Raspberry Pi's
// CPU, from the Linux kernel's thermal framework: the file
// /sys/class/thermal/thermal_zone0/temp holds milli-degrees Celsius.
//
// The value is published as soc_temperature_c. It shows how hot the board
// runs (a Pi starts to throttle its clock at 80 °C) more than the room's
// temperature.
//
// # Reference
//
// https://www.kernel.org/doc/html/latest/driver-api/thermal/sysfs-api.html
package soc
