// Package catalog turns a configured sensor into a driver. Open switches on
// the configured type name and calls the driver's constructor with the bus
// and options the configuration names; nothing registers itself, so this
// file's switch is the one place that lists what edgepub can read.
//
// Buses are opened by name only: "/dev/i2c-1" (or "1", "I2C1"), never "the
// first bus", because the first bus of one board is the HAT EEPROM bus of
// another. HostBuses opens them through periph's host drivers; tests pass
// buses that replay recorded traffic.
//
// Scan and ListOneWire look for devices on a bus and name what they find;
// Snippet turns the result into configuration to paste.
package catalog
