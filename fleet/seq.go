package fleet

import (
	"slices"
	"time"
)

// Bounds that keep one device's seq state small whatever it sends.
const (
	maxOpenGaps      = 64
	maxDeclaredSpans = 16
)

// span is a range of seqs, both ends included.
type span struct{ first, last uint64 }

func (s span) len() uint64 { return s.last - s.first + 1 }

// openGap is a gap not yet counted: a declaration may still cover it (the
// health message that declares a jump can arrive after the first reading
// behind it), or a late reading fill it.
type openGap struct {
	span
	noticed time.Time
}

// seqTracker counts a device's missing and duplicate readings from its seq
// stream. Readings arrive in seq order (QoS 1 on one connection) except
// for resends after a connection loss, which are duplicates.
type seqTracker struct {
	started  bool
	resync   bool
	high     uint64 // highest seq seen
	open     []openGap
	declared []span

	missing, skipped, duplicates, restarts uint64
}

// see records one reading.
func (t *seqTracker) see(seq uint64, now time.Time) {
	switch {
	case !t.started || t.resync:
		// The console's own view starts (again) here: what it did not
		// see while it was away is not the device's loss.
		t.started, t.resync, t.high = true, false, seq
	case seq == t.high+1:
		t.high = seq
	case seq > t.high:
		t.addGap(span{t.high + 1, seq - 1}, now)
		t.high = seq
	case seq == 1:
		// A device whose state dir was wiped starts again at 1.
		t.restarts++
		t.high = 1
	case t.fill(seq):
	default:
		t.duplicates++
	}
}

// addGap counts what a declaration covers as skipped and keeps the rest
// open.
func (t *seqTracker) addGap(g span, now time.Time) {
	rest, covered := subtract(g, t.declared)
	t.skipped += covered
	for _, r := range rest {
		t.open = append(t.open, openGap{r, now})
	}
	for len(t.open) > maxOpenGaps {
		t.missing += t.open[0].len()
		t.open = t.open[1:]
	}
}

// fill removes seq from an open gap; false if no gap holds it.
func (t *seqTracker) fill(seq uint64) bool {
	for i, g := range t.open {
		if seq < g.first || seq > g.last {
			continue
		}
		var parts []openGap
		if seq > g.first {
			parts = append(parts, openGap{span{g.first, seq - 1}, g.noticed})
		}
		if seq < g.last {
			parts = append(parts, openGap{span{seq + 1, g.last}, g.noticed})
		}
		t.open = slices.Replace(t.open, i, i+1, parts...)
		return true
	}
	return false
}

// declare records seq ranges the device says it skipped; open gaps inside
// them count as skipped, not missing.
func (t *seqTracker) declare(spans []span) {
	for _, s := range spans {
		if s.last < s.first || slices.Contains(t.declared, s) {
			continue
		}
		t.declared = append(t.declared, s)
		if len(t.declared) > maxDeclaredSpans {
			t.declared = t.declared[1:]
		}
		var kept []openGap
		for _, g := range t.open {
			rest, covered := subtract(g.span, []span{s})
			t.skipped += covered
			for _, r := range rest {
				kept = append(kept, openGap{r, g.noticed})
			}
		}
		t.open = kept
	}
}

// settle counts the gaps noticed before cutoff as missing.
func (t *seqTracker) settle(cutoff time.Time) {
	kept := t.open[:0]
	for _, g := range t.open {
		if g.noticed.Before(cutoff) {
			t.missing += g.len()
		} else {
			kept = append(kept, g)
		}
	}
	t.open = kept
}

// subtract returns the parts of g outside every span of by, and how many
// seqs of g they covered.
func subtract(g span, by []span) (rest []span, covered uint64) {
	rest = []span{g}
	for _, d := range by {
		var next []span
		for _, r := range rest {
			if d.last < r.first || d.first > r.last {
				next = append(next, r)
				continue
			}
			lo, hi := max(r.first, d.first), min(r.last, d.last)
			covered += hi - lo + 1
			if r.first < lo {
				next = append(next, span{r.first, lo - 1})
			}
			if hi < r.last {
				next = append(next, span{hi + 1, r.last})
			}
		}
		rest = next
	}
	return rest, covered
}
