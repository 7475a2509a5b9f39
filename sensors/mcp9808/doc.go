// Package mcp9808 reads the Microchip MCP9808 temperature sensor over I²C
// through periph.io/x/devices/v3/mcp9808.
//
// The sensor converts continuously; its temperature register reads 0 °C
// until the first conversion after power-up or wake-up has finished, so the
// first Sense after NewI2C or Halt waits one conversion time (30 to 250 ms
// by resolution) before reading.
//
// # Datasheet
//
// http://ww1.microchip.com/downloads/en/DeviceDoc/25095A.pdf
package mcp9808
