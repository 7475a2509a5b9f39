// Package footprint holds benchmarks of the whole edgepub daemon (the real
// binary built as shipped, sim sensors, a real Mosquitto on 127.0.0.1): its
// steady-state memory, CPU and storage writes with 10 sensors at 1 Hz next
// to a bare connected paho client, and its storage writes per reading
// during an outage at 1,000 readings a second. They run only with -bench;
// results are recorded in BENCHMARKS.md. Storage numbers need the state dir
// on a filesystem no other process syncs (see edgepubproc.StateDir):
//
//	EDGEPUB_BENCH_DIR=/mnt/benchfs go test -run '^$' -bench . -benchtime 1x -timeout 20m ./bench/footprint
package footprint
