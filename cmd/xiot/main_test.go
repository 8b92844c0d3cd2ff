package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xiot/xiot/internal/config"
	"github.com/xiot/xiot/internal/version"
)

// runXiot runs the CLI in-process and returns its exit code and output.
func runXiot(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestDispatch(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string // substrings
		wantStderr []string // substrings
	}{
		{"no arguments", nil, exitUsage, nil, []string{"Usage:", "Commands:", "version"}},
		{"help", []string{"help"}, exitOK, []string{"Commands:", "agent", "disco", "ping", "config", "version", "Examples:"}, nil},
		{"--help", []string{"--help"}, exitOK, []string{"Commands:"}, nil},
		{"help for a command", []string{"help", "version"}, exitOK, []string{"Usage: xiot version", "Examples:", "-short"}, nil},
		{"unknown command", []string{"frobnicate"}, exitUsage, nil, []string{`unknown command "frobnicate"`, "Commands:"}},
		{"help for unknown command", []string{"help", "frobnicate"}, exitUsage, nil, []string{`unknown command "frobnicate"`}},
		{"--version", []string{"--version"}, exitOK, []string{"xiot " + version.Version, "platform:"}, nil},
		{"version short", []string{"version", "--short"}, exitOK, []string{"xiot " + version.Version + " (commit "}, nil},
		{"version -h", []string{"version", "-h"}, exitOK, []string{"Usage: xiot version"}, nil},
		{"version bad flag", []string{"version", "--bogus"}, exitUsage, nil, []string{"xiot version: flag provided but not defined: -bogus", "Usage: xiot version"}},
		{"version extra argument", []string{"version", "now"}, exitUsage, nil, []string{`xiot version: unexpected argument "now"`, "Run 'xiot version --help'"}},
		{"config without subcommand", []string{"config"}, exitUsage, nil, []string{"xiot config: missing subcommand"}},
		{"config --help", []string{"config", "--help"}, exitOK, []string{"xiot config check", "xiot config example", "Examples:"}, nil},
		{"config unknown subcommand", []string{"config", "chek"}, exitUsage, nil, []string{`unknown subcommand "chek"`}},
		{"config check --help", []string{"config", "check", "--help"}, exitOK, []string{"Usage: xiot config check", "-syntax-only", "Examples:"}, nil},
		{"config check without file", []string{"config", "check"}, exitUsage, nil, []string{"xiot config check: missing FILE"}},
		{"config example extra", []string{"config", "example", "x"}, exitUsage, nil, []string{`xiot config example: unexpected argument "x"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runXiot(t, tc.args...)
			if code != tc.wantCode {
				t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.wantCode, stdout, stderr)
			}
			for _, w := range tc.wantStdout {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout does not contain %q:\n%s", w, stdout)
				}
			}
			for _, w := range tc.wantStderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not contain %q:\n%s", w, stderr)
				}
			}
			if tc.wantStdout == nil && stdout != "" {
				t.Errorf("unexpected stdout:\n%s", stdout)
			}
		})
	}
}

// TestEveryCommandHasHelp checks --help on every registered command: exit
// 0, usage on stdout, nothing on stderr.
func TestEveryCommandHasHelp(t *testing.T) {
	for _, c := range commands {
		for _, flag := range []string{"-h", "--help"} {
			code, stdout, stderr := runXiot(t, c.name, flag)
			if code != exitOK || !strings.Contains(stdout, "Usage") || stderr != "" {
				t.Errorf("xiot %s %s: code %d\nstdout:\n%s\nstderr:\n%s", c.name, flag, code, stdout, stderr)
			}
		}
		if c.summary == "" {
			t.Errorf("command %s has no summary", c.name)
		}
	}
}

func TestExitCode(t *testing.T) {
	var stderr bytes.Buffer
	if got := exitCode(io.ErrUnexpectedEOF, "xiot x", &stderr); got != exitRuntime || stderr.String() != "xiot x: unexpected EOF\n" {
		t.Errorf("runtime error: code %d, stderr %q", got, stderr.String())
	}
	stderr.Reset()
	multi := exitCode(&config.Error{File: "a.yaml", Line: 1, Key: "k", Err: io.EOF}, "xiot agent", &stderr)
	if multi != exitRuntime || !strings.HasPrefix(stderr.String(), "xiot agent: a.yaml:1: k: EOF") {
		t.Errorf("config error: code %d, stderr %q", multi, stderr.String())
	}
}

func TestConfigExample(t *testing.T) {
	code, stdout, stderr := runXiot(t, "config", "example")
	if code != exitOK || stderr != "" {
		t.Fatalf("code %d stderr %q", code, stderr)
	}
	if stdout != config.ExampleYAML() {
		t.Error("config example does not print the embedded example")
	}
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string, perm os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), perm); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, perm); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("pw", "secret\n", 0o600)
	write("loose", "secret\n", 0o644)
	good := write("good.yaml", "account:\n  jid: d@example.org\n  password_file: pw\n", 0o644)
	inline := write("inline.yaml", "account:\n  jid: d@example.org\n  password: secret\n", 0o644)
	loose := write("loose.yaml", "account:\n  jid: d@example.org\n  password_file: loose\n", 0o644)
	bad := write("bad.yaml", "account:\n  jid: d@example.org\n  password_file: pw\nboard: pi\nxmpp:\n  keepalive: soon\n", 0o644)
	missing := write("missing.yaml", "account:\n  jid: d@example.org\n  password_file: nope\n", 0o644)

	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr []string
	}{
		{"good", []string{good}, exitOK, []string{good + ": ok"}, nil},
		{"inline password warns", []string{inline}, exitOK, []string{inline + ": ok"}, []string{"warning: " + inline + ":3: account.password: password stored inline"}},
		{"loose permissions", []string{loose}, exitRuntime, nil, []string{loose + ":3: account.password_file:", "mode 0644", "chmod 600 " + filepath.Join(dir, "loose")}},
		{"syntax only skips files", []string{"--syntax-only", loose, missing}, exitOK, []string{loose + ": ok", missing + ": ok"}, nil},
		{"every error with line and key", []string{bad}, exitRuntime, nil, []string{bad + `:4: board: must be auto, sim or none, not "pi"`, bad + ":6: xmpp.keepalive: not a duration"}},
		{"missing password file", []string{missing}, exitRuntime, nil, []string{missing + ":3: account.password_file:", "no such file"}},
		{"some good some bad", []string{good, bad}, exitRuntime, []string{good + ": ok"}, []string{"1 of 2 configuration files have problems"}},
		{"no such config", []string{filepath.Join(dir, "none.yaml")}, exitRuntime, nil, []string{"none.yaml: no such file"}},
		{"print redacts", []string{"--print", inline}, exitOK, []string{"# " + inline, "password: '[redacted]'", "jid: d@example.org/xiot"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runXiot(t, append([]string{"config", "check"}, tc.args...)...)
			if code != tc.wantCode {
				t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.wantCode, stdout, stderr)
			}
			for _, w := range tc.wantStdout {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout does not contain %q:\n%s", w, stdout)
				}
			}
			for _, w := range tc.wantStderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not contain %q:\n%s", w, stderr)
				}
			}
			if strings.Contains(stdout+stderr, "secret\n") || strings.Contains(stdout, "password: secret") {
				t.Errorf("output leaks the password:\n%s\n%s", stdout, stderr)
			}
		})
	}
}
