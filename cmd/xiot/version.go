package main

import (
	"context"
	"fmt"
	"io"

	"github.com/xiot/xiot/internal/version"
)

const versionUsage = `Usage: xiot version [--short]

Print the xiot version, the VCS commit, the Go version, the target platform
and the board families the linked periph.io host drivers support.

Examples:
  xiot version
  xiot version --short
`

// runVersion implements "xiot version".
func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", versionUsage)
	short := fs.Bool("short", false, "print one line")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef(fs, "unexpected argument %q", fs.Arg(0))
	}
	info := version.Get()
	if *short {
		_, err := fmt.Fprintln(stdout, info)
		return err
	}
	_, err := fmt.Fprint(stdout, info.Report())
	return err
}
