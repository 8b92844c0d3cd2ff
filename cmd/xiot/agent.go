package main

// PLACEHOLDER written by the config engineer so cmd/xiot compiles; the lead
// replaces this file with the real "xiot agent".

import (
	"context"
	"errors"
	"io"
)

// runAgent is a placeholder for "xiot agent".
func runAgent(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("agent", "Usage: xiot agent\n\nNot implemented yet.\n")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	return errors.New("not implemented yet")
}
