package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
)

// memBreakdown splits the Go runtime's memory into what a fleet owner can
// act on, per device: live heap objects, goroutine stacks, heap pages kept
// but free (garbage collected, not yet returned to the OS) and the rest.
func memBreakdown(n int) string {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	per := func(b uint64) string { return kib(int64(b) / int64(n)) }
	return fmt.Sprintf("Go runtime per device: heap objects %s (%d objects), stacks %s, free heap pages kept %s, runtime metadata %s; GC target %s",
		per(m.HeapAlloc), m.HeapObjects/uint64(n), per(m.StackInuse), per(m.HeapIdle-m.HeapReleased+m.HeapInuse-m.HeapAlloc),
		per(m.MSpanInuse+m.MCacheInuse+m.BuckHashSys+m.GCSys+m.OtherSys), mib(int64(m.NextGC)))
}

// writeProfiles writes a heap profile (prefix.heap, in-use space after a
// collection) and a goroutine profile (prefix.goroutine) when prefix is set.
func writeProfiles(prefix string) error {
	if prefix == "" {
		return nil
	}
	for _, name := range []string{"heap", "goroutine"} {
		f, err := os.Create(prefix + "." + name)
		if err != nil {
			return err
		}
		err = pprof.Lookup(name).WriteTo(f, 0)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("%s profile: %w", name, err)
		}
	}
	return nil
}
