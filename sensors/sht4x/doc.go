// Package sht4x reads the Sensirion SHT40, SHT41, SHT43 and SHT45
// temperature and humidity sensors over I²C.
//
// periph.io has no driver for this family, so this one talks to the device
// directly: one command byte, a conversion wait, then two 16-bit words each
// followed by a CRC-8.
//
// # Datasheet
//
// https://sensirion.com/media/documents/33FD6951/662A593A/HT_DS_Datasheet_SHT4x.pdf
package sht4x
