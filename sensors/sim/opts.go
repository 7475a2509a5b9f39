package sim

import "time"

// Opts configures a simulated sensor. A nil *Opts means the zero Opts: seed
// 0, the system clock and the clock's own time zone.
type Opts struct {
	// Seed selects the random course of drift and noise. Any value is valid,
	// including 0; give each simulated device its own seed so their curves
	// differ.
	Seed int64
	// Now is the clock the sensor reads at every Sense. Nil means time.Now.
	// Tests and replays inject a fake clock here.
	Now func() time.Time
	// Location is the time zone whose clock time drives the daily
	// temperature curve. Nil means the location of the times Now returns.
	Location *time.Location
}

// clock returns the time source and the time zone the daily curve uses.
func (o *Opts) clock() (now func() time.Time, loc *time.Location) {
	if o == nil || o.Now == nil {
		now = time.Now
	} else {
		now = o.Now
	}
	if o != nil {
		loc = o.Location
	}
	return now, loc
}

func (o *Opts) seed() int64 {
	if o == nil {
		return 0
	}
	return o.Seed
}
