package am2320

// crc16 is the Modbus CRC the sensor appends to each reply (datasheet
// CRC section): reflected polynomial 0xA001, initial value 0xFFFF.
func crc16(data []byte) uint16 {
	crc := uint16(0xFFFF)
	for _, b := range data {
		crc ^= uint16(b)
		for range 8 {
			if crc&1 != 0 {
				crc = crc>>1 ^ 0xA001
			} else {
				crc >>= 1
			}
		}
	}
	return crc
}
