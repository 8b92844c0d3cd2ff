//go:build !linux

package testserver

import "syscall"

// sysProcAttr returns the default attributes: only Linux has Pdeathsig.
func sysProcAttr() *syscall.SysProcAttr { return nil }
