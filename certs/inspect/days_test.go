package inspect

import "testing"

// A certificate past its end says how long ago, not a negative count.
func TestDaysText(t *testing.T) {
	for days, want := range map[int]string{-1064: "expired 1064 days ago", -1: "expired 1 day ago", 0: "expires within a day", 1: "1 day left", 812: "812 days left"} {
		if got := daysText(days); got != want {
			t.Errorf("daysText(%d) = %q, want %q", days, got, want)
		}
	}
}
