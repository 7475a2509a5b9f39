// Package startup holds the benchmark of how long the real edgepub daemon
// takes from exec to READY=1 on the notify socket, as systemd times a
// Type=notify start: with an empty state dir (the anchor), with 64 MiB of
// acknowledged segment files left in the outbox, and with 100,000
// unacknowledged readings. It runs only with -bench; results are recorded
// in BENCHMARKS.md.
//
//	go test -run '^$' -bench BenchmarkStartup -benchtime 1x ./bench/startup
package startup
