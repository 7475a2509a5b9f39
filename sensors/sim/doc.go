// Package sim provides simulated sensors whose readings look like a real
// device's: slow, smooth, correlated curves rather than white noise, so that
// dashboards, alerts and the demo can be exercised without hardware.
//
// Every sensor is reproducible: the same Opts.Seed read at the same sequence
// of clock times gives the same values. Random drift advances with the time
// that passed between two reads, not with the number of reads, so a sensor
// read every second and one read every minute trace statistically the same
// curve; only the sampling differs.
//
// BME280 models a sensor on a desk indoors:
//
//   - temperature_c: a daily curve by local clock time, coolest around 05:00
//     and warmest around 15:00 (21 °C ± 3 °C), plus an Ornstein-Uhlenbeck
//     drift (σ 1 °C, relaxation 2 h, bounded to ±3 °C) plus 0.02 °C noise;
//     rounded to 0.01 °C, the BME280's resolution.
//   - humidity_pct: derived from a drifting dew point (10 °C, σ 1.5 °C,
//     relaxation 4 h) with the Magnus formula, so it falls as the room warms,
//     as relative humidity does; plus 0.1 % noise, clamped to 0..100 and
//     rounded to 0.1 %, well below the sensor's ±3 % accuracy.
//   - pressure_hpa: 1013.25 hPa plus a weather drift (σ 5 hPa, relaxation
//     12 h, bounded to ±15 hPa) plus 0.02 hPa noise; rounded to 0.01 hPa (1 Pa).
//
// SoC models a Raspberry Pi's CPU temperature, soc_temperature_c: an idle
// level around 47 °C drifting slowly (σ 2 °C, relaxation 1 h, bounded to
// ±5 °C), plus load bursts arriving at random (on average every 5 minutes,
// lasting 45 s on average, each adding 3..9 °C) that the die follows with a
// thermal lag of 15 s, plus 0.2 °C noise; rounded to 0.1 °C.
//
// A clock that steps backwards freezes the drift until it has caught up
// again; the daily curve always follows the clock.
package sim
