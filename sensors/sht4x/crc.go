package sht4x

// crc8 is the checksum Sensirion appends to every 16-bit word: polynomial
// 0x31 (x⁸+x⁵+x⁴+1), initial value 0xFF, no reflection, no final XOR.
func crc8(data []byte) byte {
	crc := byte(0xFF)
	for _, b := range data {
		crc ^= b
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
