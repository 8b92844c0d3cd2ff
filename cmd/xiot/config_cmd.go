package main

import (
	"context"
	"fmt"
	"io"

	"github.com/xiot/xiot/internal/config"
)

const configUsage = `Usage:
  xiot config check [--syntax-only] [--print] FILE...
  xiot config example

check    load each FILE, report every problem with its line and key, print
         warnings, and (unless --syntax-only) check the parts that depend on
         the machine: password and secret files exist and are mode 0600 or
         stricter, the CA bundle parses. Exits 1 if any FILE has a problem.
example  print a commented example documenting every key and its default.

Examples:
  xiot config example > /etc/xiot/xiot.yaml
  xiot config check /etc/xiot/xiot.yaml
  xiot config check --syntax-only --print staging.yaml
`

const configCheckUsage = `Usage: xiot config check [--syntax-only] [--print] FILE...

Load each FILE and report every problem as FILE:LINE: KEY: MESSAGE, then the
warnings. Unless --syntax-only, also read the password and secret files
(refusing ones that group or others can read) and parse the CA bundle, as
"xiot agent" does before it starts. Exits 1 if any FILE has a problem.

Examples:
  xiot config check /etc/xiot/xiot.yaml
  xiot config check --syntax-only --print staging.yaml
`

const configExampleUsage = `Usage: xiot config example

Print the commented example configuration. Every key is shown with its
default value.

Example:
  xiot config example > /etc/xiot/xiot.yaml
`

// runConfig implements "xiot config <check|example>".
func runConfig(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("config", configUsage)
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef(fs, "missing subcommand: check or example")
	}
	switch sub, rest := fs.Arg(0), fs.Args()[1:]; sub {
	case "check":
		return runConfigCheck(ctx, rest, stdout, stderr)
	case "example":
		return runConfigExample(rest, stdout, stderr)
	default:
		return usagef(fs, "unknown subcommand %q: use check or example", sub)
	}
}

// runConfigExample implements "xiot config example".
func runConfigExample(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("config example", configExampleUsage)
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef(fs, "unexpected argument %q", fs.Arg(0))
	}
	_, err := io.WriteString(stdout, config.ExampleYAML())
	return err
}

// runConfigCheck implements "xiot config check".
func runConfigCheck(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("config check", configCheckUsage)
	syntaxOnly := fs.Bool("syntax-only", false, "only check the file itself, not the password, secret and CA files it names")
	show := fs.Bool("print", false, "print the effective configuration (defaults filled in, secrets redacted)")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef(fs, "missing FILE")
	}
	failed := 0
	for _, path := range fs.Args() {
		cfg, err := config.Load(path)
		if err == nil && !*syntaxOnly {
			err = cfg.Preflight()
		}
		if err != nil {
			failed++
			fmt.Fprintln(stderr, err)
			continue
		}
		for _, w := range cfg.Warnings() {
			fmt.Fprintln(stderr, "warning: "+w)
		}
		if *show {
			fmt.Fprintf(stdout, "# %s\n%s", path, cfg)
		}
		fmt.Fprintf(stdout, "%s: ok\n", path)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d configuration files have problems", failed, fs.NArg())
	}
	return nil
}
