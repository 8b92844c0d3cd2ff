//go:build xiot_small

package main

// serverCommands is empty in the small build (the xiot_small tag): the
// concentrator, the EXI gateway and the registry with its owners' commands
// are left out; see servers.go.
var serverCommands []command
