//go:build linux

package testserver

import "syscall"

// sysProcAttr puts the server in its own process group, so that a Ctrl-C in
// the terminal reaches only our process (which then stops the server in
// order), and kills the server if our process dies without cleaning up (for
// example when "go test" hits its timeout).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
