//go:build linux

package main

import "syscall"

// sysProcAttr keeps the agent out of the terminal's process group, so that
// Ctrl-C reaches only the demo, which stops the agent in order; and kills
// the agent if the demo dies without cleaning up.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
