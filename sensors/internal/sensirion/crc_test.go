package sensirion

import "testing"

func TestCRC8KnownValues(t *testing.T) {
	for _, tc := range []struct {
		word uint16
		want byte
		from string
	}{
		{0xBEEF, 0x92, "the datasheets' checksum example"},
		// SCD4x datasheet: read_measurement (500 ppm, 25 °C, 37 %RH),
		// set_sensor_altitude (1950 m) and get_serial_number examples.
		{0x01F4, 0x33, "SCD4x read_measurement"},
		{0x6667, 0xA2, "SCD4x read_measurement"},
		{0x5EB9, 0x3C, "SCD4x read_measurement"},
		{0x079E, 0x09, "SCD4x set_sensor_altitude"},
		{0xF896, 0x31, "SCD4x get_serial_number"},
		{0x9F07, 0xC2, "SCD4x get_serial_number"},
		// Worked by hand from the definition, for the SHT4x tests.
		{0x6666, 0x93, "by hand"},
		{0x9999, 0xBE, "by hand"},
		{0xFFFF, 0xAC, "by hand"},
		{0x0000, 0x81, "by hand"},
		{0x1234, 0x37, "by hand"},
		{0x5678, 0x7D, "by hand"},
	} {
		if got := CRC8([]byte{byte(tc.word >> 8), byte(tc.word)}); got != tc.want {
			t.Errorf("CRC8(%#04x) = %#02x, want %#02x (%s)", tc.word, got, tc.want, tc.from)
		}
	}
}
