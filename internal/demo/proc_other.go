//go:build !linux

package main

import "syscall"

// sysProcAttr returns the default attributes: only Linux has Pdeathsig.
func sysProcAttr() *syscall.SysProcAttr { return nil }
