// Package drain holds the benchmark of how long the real edgepub daemon
// takes to deliver a 100,000-reading backlog once the broker is back, and
// how much memory it needs while it holds that backlog on disk. It runs
// only with -bench; results are recorded in BENCHMARKS.md.
//
//	go test -run '^$' -bench BenchmarkDrain -benchtime 1x ./bench/drain
package drain
