// Package sensirion speaks the word protocol of Sensirion's I²C sensors
// (SCD4x, SGP30, SHT3x), which TI's HDC302x follows too: the host sends a
// command, waits while the chip executes it, then reads 16-bit big-endian
// words, each followed by a CRC-8 of its two bytes. The SHT4x driver reads
// its fixed 6-byte answer itself and uses only the CRC.
//
// The datasheets' "Checksum Calculation" section defines the CRC; each
// chip's command table gives the execution times.
package sensirion
