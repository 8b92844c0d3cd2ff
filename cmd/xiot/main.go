// Command xiot puts sensors and actuators on XMPP. It is one binary with
// subcommands: the device agent daemon, diagnostics against an XMPP
// server, and configuration tools. Run "xiot help" for the list.
//
// Exit status: 0 on success (and for --help), 1 on runtime errors, 2 on
// usage errors. SIGINT and SIGTERM cancel the running command's context.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
)

// Exit codes.
const (
	exitOK      = 0
	exitRuntime = 1
	exitUsage   = 2
)

// command is one subcommand. run parses its own flags from args (the
// arguments after the subcommand name) and writes only to stdout and
// stderr.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands lists the subcommands in the order "xiot help" shows them. Add
// a subcommand by adding one line here and its run function in its own file.
// The services that run next to a server (serverCommands) are left out of
// builds with the xiot_small tag, which the ARM release uses.
var commands = slices.Concat([]command{
	{"agent", "run the device daemon (sensors, control, discovery over XMPP)", runAgent},
	{"disco", "query XEP-0030 service discovery of a JID", runDisco},
	{"ping", "send an XEP-0199 ping to a JID and print the round trip", runPing},
	{"read", "read sensor data from a device (XEP-0323)", runRead},
	{"set", "set control parameters of a device (XEP-0325)", runSet},
	{"form", "print the control form of a device (XEP-0325)", runForm},
	{"exi", "encode XML to EXI or decode EXI to XML (W3C EXI 1.0)", runEXI},
	{"nodes", "browse the node tree of a concentrator (XEP-0326)", runNodes},
}, serverCommands, []command{
	{"doctor", "check the board, buses, clock and XMPP account, with hints", runDoctor},
	{"install", "install the agent as a systemd service (binary, unit, user, config)", runInstall},
	{"uninstall", "remove the systemd service and binary (keeps config and state)", runUninstall},
	{"config", "check a configuration file or print the commented example", runConfig},
	{"version", "print version, commit, Go version and board support", runVersion},
})

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal, restore the default handling so that a
		// second Ctrl-C kills a command that is slow to shut down.
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches args to a subcommand and maps its error to an exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printMainUsage(stderr)
		return exitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(rest) == 0 {
			printMainUsage(stdout)
			return exitOK
		}
		// "xiot help agent" is "xiot agent --help".
		name, rest = rest[0], []string{"--help"}
	case "-version", "--version":
		name = "version"
	}
	cmd, ok := lookup(name)
	if !ok {
		fmt.Fprintf(stderr, "xiot: unknown command %q\n\n", name)
		printMainUsage(stderr)
		return exitUsage
	}
	return exitCode(cmd.run(ctx, rest, stdout, stderr), "xiot "+cmd.name, stderr)
}

// lookup finds a subcommand by name.
func lookup(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// exitCode prints err (unless already printed) and returns the exit code.
func exitCode(err error, prog string, stderr io.Writer) int {
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, errHelp):
		return exitOK
	case errors.Is(err, errSilent):
		return exitRuntime
	case errors.As(err, &ue):
		if ue.prog != "" {
			prog = ue.prog
		}
		if !ue.printed {
			fmt.Fprintf(stderr, "%s: %v\nRun '%s --help' for usage.\n", prog, ue.err, prog)
		}
		return exitUsage
	default:
		fmt.Fprintf(stderr, "%s: %s\n", prog, indentLines(err.Error()))
		return exitRuntime
	}
}

// indentLines indents continuation lines of a multi-line error (joined
// configuration errors) under the program name.
func indentLines(s string) string {
	return strings.ReplaceAll(s, "\n", "\n  ")
}

func printMainUsage(w io.Writer) {
	fmt.Fprint(w, `xiot puts sensors and actuators on XMPP.

Usage:
  xiot <command> [flags] [arguments]

Commands:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-13s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Run 'xiot <command> --help' for a command's flags and examples.

Examples:
  xiot config example > /etc/xiot/xiot.yaml
  xiot config check /etc/xiot/xiot.yaml
  xiot agent --config /etc/xiot/xiot.yaml
  xiot version
`)
}

// errSilent is returned by a command that has already reported its failure
// on stdout (a checklist); it exits 1 without a message.
var errSilent = errors.New("failure already reported")

// errHelp reports that usage was printed on request; it exits 0.
var errHelp = errors.New("help requested")

// usageError is a mistake on the command line; it exits 2.
type usageError struct {
	prog    string // "xiot config check"; "" means the top-level command
	err     error
	printed bool // message and usage already written to stderr
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usagef returns a usage error of the command fs parses (exit status 2),
// e.g. for a missing or surplus positional argument.
func usagef(fs *flag.FlagSet, format string, args ...any) error {
	return &usageError{prog: fs.Name(), err: fmt.Errorf(format, args...)}
}

// newFlagSet returns the FlagSet of "xiot <name>". usage is the text shown
// by --help above the flag list: a synopsis, a description and examples.
func newFlagSet(name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet("xiot "+name, flag.ContinueOnError)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprint(w, usage)
		if hasFlags(fs) {
			fmt.Fprint(w, "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

// hasFlags reports whether fs defines any flag.
func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// parseFlags parses args with fs. -h/--help prints the usage to stdout and
// returns errHelp (exit 0); a bad flag prints the problem and the usage to
// stderr and returns a *usageError (exit 2).
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(stdout)
		fs.Usage()
		return errHelp
	default:
		fmt.Fprintf(stderr, "%s: %v\n\n", fs.Name(), err)
		fs.SetOutput(stderr)
		fs.Usage()
		return &usageError{prog: fs.Name(), err: err, printed: true}
	}
}
