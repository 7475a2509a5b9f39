package sim

import (
	"math"
	"time"
)

// Hours of the day, local clock time, at which the daily curve is lowest and
// highest. Warming takes 10 h and cooling 14 h, as outdoors and in rooms that
// follow the outdoor temperature.
const (
	coolestHour = 5.0
	warmestHour = 15.0
)

// dailyShape returns where t lies on the daily curve: -1 at coolestHour, +1
// at warmestHour, moving along half cosines in between so the curve is smooth
// at both turning points.
func dailyShape(t time.Time) float64 {
	h := float64(t.Hour()) + float64(t.Minute())/60 + float64(t.Second())/3600 +
		float64(t.Nanosecond())/3600e9
	if h >= coolestHour && h < warmestHour {
		return -math.Cos(math.Pi * (h - coolestHour) / (warmestHour - coolestHour))
	}
	sinceWarmest := math.Mod(h-warmestHour+24, 24)
	return math.Cos(math.Pi * sinceWarmest / (24 - (warmestHour - coolestHour)))
}
