package sim

import (
	"testing"
	"time"
)

func BenchmarkBME280Sense(b *testing.B) {
	at := day0
	s := NewBME280(&Opts{Seed: 1, Now: func() time.Time { return at }})
	for b.Loop() {
		at = at.Add(time.Second)
		if _, err := s.Sense(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSoCSense(b *testing.B) {
	at := day0
	s := NewSoC(&Opts{Seed: 1, Now: func() time.Time { return at }})
	for b.Loop() {
		at = at.Add(time.Second)
		if _, err := s.Sense(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
}
