package main

// PLACEHOLDER written by the config engineer so cmd/xiot compiles; the lead
// replaces this file with the real "xiot disco".

import (
	"context"
	"errors"
	"io"
)

// runDisco is a placeholder for "xiot disco".
func runDisco(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("disco", "Usage: xiot disco\n\nNot implemented yet.\n")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	return errors.New("not implemented yet")
}
