// Package veml7700 reads the Vishay VEML7700 ambient light sensor over I²C.
//
// The sensor integrates continuously; Sense reads the latest ALS count and
// multiplies it by the resolution for the gain and integration time set,
// starting from 0.0042 lx/count at gain 2 and 800 ms (the figure of the
// current datasheet and application note; revisions before 2022 gave
// 0.0036). Registers are 16 bits, least significant byte first.
//
// # Datasheet
//
// https://www.vishay.com/docs/84286/veml7700.pdf and the application note
// "Designing the VEML7700 Into an Application",
// https://www.vishay.com/docs/84323/designingveml7700.pdf
package veml7700
