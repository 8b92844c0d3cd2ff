// Package cpu measures the CPU time of the benchmarks' processes: a
// server's (Prosody, mosquitto) from /proc, and the benchmark's own, so
// that bench/ can say where the time of a round trip or a stream goes.
package cpu
