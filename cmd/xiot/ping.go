package main

// PLACEHOLDER written by the config engineer so cmd/xiot compiles; the lead
// replaces this file with the real "xiot ping".

import (
	"context"
	"errors"
	"io"
)

// runPing is a placeholder for "xiot ping".
func runPing(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("ping", "Usage: xiot ping\n\nNot implemented yet.\n")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	return errors.New("not implemented yet")
}
