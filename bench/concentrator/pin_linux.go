//go:build linux

package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// pinnable reports whether there are CPUs enough to give the XMPP server
// one of its own.
func pinnable() bool { return runtime.NumCPU() >= 2 }

// placeCPUs gives the server process CPU 0 alone and every thread of this
// process (the load generator, the bridge, the subscriber) and the others
// (mosquitto) the remaining CPUs; or, with pinned false, lets them all use
// every CPU again.
func placeCPUs(pinned bool, server int, others ...int) error {
	var rest, first unix.CPUSet
	for c := range runtime.NumCPU() {
		if c != 0 || !pinned {
			rest.Set(c)
		}
		if c == 0 || !pinned {
			first.Set(c)
		}
	}
	if err := unix.SchedSetaffinity(server, &first); err != nil {
		return fmt.Errorf("CPU affinity of the server (pid %d): %w", server, err)
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, t := range tasks {
		if tid, err := strconv.Atoi(t.Name()); err == nil {
			others = append(others, tid)
		}
	}
	for _, pid := range others {
		if err := unix.SchedSetaffinity(pid, &rest); err != nil {
			return fmt.Errorf("CPU affinity of %d: %w", pid, err)
		}
	}
	return nil
}
