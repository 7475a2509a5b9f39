package sim

import (
	"math"
	"testing"
	"time"
)

func TestDailyShapeTurningPoints(t *testing.T) {
	at := func(h, m int) float64 {
		return dailyShape(day0.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute))
	}
	if got := at(5, 0); math.Abs(got+1) > 1e-9 {
		t.Errorf("dailyShape(05:00) = %v, want -1", got)
	}
	if got := at(15, 0); math.Abs(got-1) > 1e-9 {
		t.Errorf("dailyShape(15:00) = %v, want 1", got)
	}
	// Continuous over midnight and both turning points.
	for _, hm := range [][2]int{{0, 0}, {5, 0}, {15, 0}} {
		before := dailyShape(day0.Add(time.Duration(hm[0])*time.Hour - time.Second))
		after := dailyShape(day0.Add(time.Duration(hm[0])*time.Hour + time.Second))
		if math.Abs(before-after) > 1e-3 {
			t.Errorf("dailyShape jumps at %02d:%02d: %v then %v", hm[0], hm[1], before, after)
		}
	}
}

func TestDailyShapeRisesThenFalls(t *testing.T) {
	prev := dailyShape(day0.Add(5 * time.Hour))
	for m := 5*60 + 1; m <= 15*60; m++ {
		v := dailyShape(day0.Add(time.Duration(m) * time.Minute))
		if v < prev {
			t.Fatalf("dailyShape falls at minute %d between 05:00 and 15:00: %v after %v", m, v, prev)
		}
		prev = v
	}
	for m := 15*60 + 1; m <= 29*60; m++ {
		v := dailyShape(day0.Add(time.Duration(m) * time.Minute))
		if v > prev {
			t.Fatalf("dailyShape rises at minute %d between 15:00 and 05:00: %v after %v", m, v, prev)
		}
		prev = v
	}
}
