// Package mcp3008 reads the Microchip MCP3008 (8 inputs) and MCP3004 (4
// inputs) 10-bit analog-to-digital converters over SPI.
//
// Each conversion is one 3-byte full-duplex transfer as in the datasheet's
// section 6.1 ("Using the MCP3004/3008 with Microcontroller SPI Ports"):
// a start bit, the single-ended flag and channel, then the 10-bit result in
// the last 10 bits clocked back.
//
// The kernel's mcp320x IIO driver (dtoverlay=mcp3008) serves too; this
// package is for when SPI is opened from user space.
//
// # Datasheet
//
// https://ww1.microchip.com/downloads/en/DeviceDoc/21295d.pdf
package mcp3008
