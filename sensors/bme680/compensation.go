package bme680

import "encoding/binary"

// calibration holds the trimming parameters (datasheet, tables 11 to 14).
type calibration struct {
	t1, t2, t3                                    float64
	p1, p2, p3, p4, p5, p6, p7, p8, p9, p10       float64
	h1, h2, h3, h4, h5, h6, h7                    float64
	g1, g2, g3                                    float64
	resHeatRange, resHeatVal, rangeSwitchingError float64
}

// parseCalibration decodes the three calibration blocks: c1 from 0x8A,
// c2 from 0xE1, c3 from 0x00. Words are little-endian except par_h1 and
// par_h2, which share 0xE2 (table 13).
func parseCalibration(c1 [23]byte, c2 [14]byte, c3 [5]byte) calibration {
	s16 := func(b []byte) float64 { return float64(int16(binary.LittleEndian.Uint16(b))) }
	u16 := func(b []byte) float64 { return float64(binary.LittleEndian.Uint16(b)) }
	s8 := func(b byte) float64 { return float64(int8(b)) }
	return calibration{
		t1: u16(c2[8:10]), t2: s16(c1[0:2]), t3: s8(c1[2]),
		p1: u16(c1[4:6]), p2: s16(c1[6:8]), p3: s8(c1[8]),
		p4: s16(c1[10:12]), p5: s16(c1[12:14]), p6: s8(c1[15]), p7: s8(c1[14]),
		p8: s16(c1[18:20]), p9: s16(c1[20:22]), p10: float64(c1[22]),
		h1: float64(uint16(c2[2])<<4 | uint16(c2[1]&0x0F)),
		h2: float64(uint16(c2[0])<<4 | uint16(c2[1]>>4)),
		h3: s8(c2[3]), h4: s8(c2[4]), h5: s8(c2[5]), h6: float64(c2[6]), h7: s8(c2[7]),
		g1: s8(c2[12]), g2: s16(c2[10:12]), g3: s8(c2[13]),
		resHeatVal:          s8(c3[0]),
		resHeatRange:        float64(c3[2] >> 4 & 0x03),
		rangeSwitchingError: float64(int8(c3[4]) >> 4),
	}
}

// temperature is section 3.3.1's floating-point formula; it also returns
// t_fine, which the pressure formula needs.
func (c calibration) temperature(adc uint32) (celsius, tFine float64) {
	a := float64(adc)
	var1 := (a/16384 - c.t1/1024) * c.t2
	var2 := (a/131072 - c.t1/8192) * (a/131072 - c.t1/8192) * (c.t3 * 16)
	tFine = var1 + var2
	return tFine / 5120, tFine
}

// pressure is section 3.3.2's formula, in pascal.
func (c calibration) pressure(adc uint32, tFine float64) float64 {
	var1 := tFine/2 - 64000
	var2 := var1 * var1 * (c.p6 / 131072)
	var2 += var1 * c.p5 * 2
	var2 = var2/4 + c.p4*65536
	var1 = (c.p3*var1*var1/16384 + c.p2*var1) / 524288
	var1 = (1 + var1/32768) * c.p1
	if var1 == 0 {
		return 0
	}
	p := 1048576 - float64(adc)
	p = (p - var2/4096) * 6250 / var1
	var1 = c.p9 * p * p / 2147483648
	var2 = p * (c.p8 / 32768)
	var3 := (p / 256) * (p / 256) * (p / 256) * (c.p10 / 131072)
	return p + (var1+var2+var3+c.p7*128)/16
}

// humidity is section 3.3.3's formula, clamped to 0..100 %.
func (c calibration) humidity(adc uint32, celsius float64) float64 {
	var1 := float64(adc) - (c.h1*16 + c.h3/2*celsius)
	var2 := var1 * (c.h2 / 262144 * (1 + c.h4/16384*celsius + c.h5/1048576*celsius*celsius))
	var3 := c.h6 / 16384
	var4 := c.h7 / 2097152
	return min(max(var2+(var3+var4*celsius)*var2*var2, 0), 100)
}

// heaterResistance is section 3.3.5's res_heat_x for a target plate
// temperature at an ambient temperature.
func (c calibration) heaterResistance(targetC, ambientC float64) byte {
	var1 := c.g1/16 + 49
	var2 := c.g2/32768*0.0005 + 0.00235
	var3 := c.g3 / 1024
	var4 := var1 * (1 + var2*targetC)
	var5 := var4 + var3*ambientC
	return byte(3.4 * (var5*(4/(4+c.resHeatRange))*(1/(1+c.resHeatVal*0.002)) - 25))
}

// The BME680's gas range constants (datasheet, table 16).
var (
	gasConst1 = [16]float64{1, 1, 1, 1, 1, 0.99, 1, 0.992, 1, 1, 0.998, 0.995, 1, 0.99, 1, 1}
	gasConst2 = [16]float64{8000000, 4000000, 2000000, 1000000, 499500.4995, 248262.1648, 125000,
		63004.03226, 31281.28128, 15625, 7812.5, 3906.25, 1953.125, 976.5625, 488.28125, 244.140625}
)

// gasResistance680 is section 3.4.1's formula for the BME680, in ohms.
func (c calibration) gasResistance680(adc uint16, gasRange byte) float64 {
	var1 := (1340 + 5*c.rangeSwitchingError) * gasConst1[gasRange]
	return var1 * gasConst2[gasRange] / (float64(adc) - 512 + var1)
}

// gasResistance688 is the BME688 datasheet's formula (section 4.2.4),
// which needs no range switching error.
func gasResistance688(adc uint16, gasRange byte) float64 {
	var1 := float64(uint32(262144) >> gasRange)
	var2 := 4096 + (float64(adc)-512)*3
	return 1000000 * var1 / var2
}
