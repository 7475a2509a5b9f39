package sgp30

// crc8 is Sensirion's checksum over each 16-bit word: polynomial 0x31,
// initial value 0xff, no reflection, no final XOR (datasheet "Checksum
// Calculation"; crc8(0xbe, 0xef) = 0x92).
func crc8(b []byte) byte {
	crc := byte(0xff)
	for _, x := range b {
		crc ^= x
		for range 8 {
			if crc&0x80 != 0 {
				crc = crc<<1 ^ 0x31
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}
