package sensirion

// CRC8 is the checksum that follows every word: polynomial 0x31
// (x⁸+x⁵+x⁴+1), initial value 0xFF, no reflection, no final XOR. The
// datasheets' example: CRC8(0xBE, 0xEF) = 0x92.
func CRC8(b []byte) byte {
	crc := byte(0xFF)
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
