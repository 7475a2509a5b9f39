// Package ds18b20 reads Maxim DS18B20 1-Wire thermometers (and the DS1822,
// DS1825 and MAX31820, which share its scratchpad format) for edgepub.
//
// A probe is named by its ROM id as the Linux kernel prints it,
// "28-0316a2799bff": the family code, a dash, and the 48-bit serial number.
// Two ways to reach it are supported:
//
//   - NewSysfs reads a probe on the kernel's w1-gpio bus, as a Raspberry Pi
//     has after dtoverlay=w1-gpio: /sys/bus/w1/devices/28-*/w1_slave. The
//     kernel does the conversion and the CRC check; a read blocks for the
//     conversion (up to 750 ms at 12 bits) and cannot be interrupted.
//   - NewOneWire reads a probe on any periph onewire.Bus, typically a DS2482
//     I²C-to-1-Wire bridge opened with periph.io/x/devices/v3/ds248x. The
//     conversion wait honours the context.
//
// DiscoverSysfs and Discover list the thermometers on either kind of bus, so
// an operator can copy their ids into the configuration.
//
// A reading of exactly 85 °C is the power-on value of the scratchpad: the
// probe reset or never converted (too weak a pull-up, parasite power without
// a strong pull-up). It and anything outside the rated -55..125 °C is
// reported as sensors.ErrImplausible rather than published.
//
// # Datasheet
//
// https://www.analog.com/media/en/technical-documentation/data-sheets/DS18B20.pdf
package ds18b20
