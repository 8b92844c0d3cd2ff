package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDecodeErrors checks that every kind of problem is reported with the
// file, the line and the key path.
func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string // exact first line of the error
		is   error  // optional sentinel
	}{
		{"bad JID", "account:\n  jid: \"a@@b\"\n", `xiot.yaml:2: account.jid: not a valid JID: "a@@b"`, nil},
		{"JID without local part", "account:\n  jid: example.org\n", `xiot.yaml:2: account.jid: "example.org" has no local part; use user@example.org`, nil},
		{"unknown top-level key", "bord: sim\n", `xiot.yaml:1: bord: unknown key (did you mean "board"?)`, ErrUnknownKey},
		{"unknown nested key", "account:\n  jid: a@b\n  pasword: x\n", `xiot.yaml:3: account.pasword: unknown key (did you mean "password"?)`, ErrUnknownKey},
		{"transposed key", "account:\n  jdi: a@b\n", `xiot.yaml:2: account.jdi: unknown key (did you mean "jid"?)`, ErrUnknownKey},
		{"unknown key without suggestion", "xmpp:\n  frobnicate: 1\n", `xiot.yaml:2: xmpp.frobnicate: unknown key; known keys: max_stanza_bytes,`, ErrUnknownKey},
		{"duplicate key", "board: sim\nboard: none\n", `xiot.yaml:2: board: set more than once (first on line 1)`, nil},
		{"section not a mapping", "account: device@example.org\n", `xiot.yaml:1: account: expected a mapping of keys, got "device@example.org"`, nil},
		{"top level not a mapping", "- a\n- b\n", `xiot.yaml:1: expected a mapping of keys, got a list`, nil},
		{"list for scalar", "board: [sim]\n", `xiot.yaml:1: board: expected a single value, got a list`, nil},
		{"scalar for list", "account:\n  owners: alice@example.org\n", `xiot.yaml:2: account.owners: expected a list, got "alice@example.org"`, nil},
		{"bad bool", "account:\n  direct_tls: yes\n", `xiot.yaml:2: account.direct_tls: expected true or false, got "yes"`, nil},
		{"bad int", "account:\n  priority: high\n", `xiot.yaml:2: account.priority: expected an integer, got "high"`, nil},
		{"float for int", "xmpp:\n  max_stanza_bytes: 1.5e6\n", `xiot.yaml:2: xmpp.max_stanza_bytes: expected an integer, got "1.5e6"`, nil},
		{"int overflow", "account:\n  priority: 99999999999999999999\n", `xiot.yaml:2: account.priority: expected an integer`, nil},
		{"priority range", "account:\n  priority: -129\n", `xiot.yaml:2: account.priority: must be between -128 and 127, not -129`, nil},
		{"bad duration", "xmpp:\n  keepalive: 60\n", `xiot.yaml:2: xmpp.keepalive: not a duration (use e.g. 500ms, 30s, 5m): "60"`, nil},
		{"keepalive too short", "xmpp:\n  keepalive: 10ms\n", `xiot.yaml:2: xmpp.keepalive: must be 0 (disabled) or at least 1s, not 10ms`, nil},
		{"reconnect order", "xmpp:\n  reconnect_min: 10s\n  reconnect_max: 5s\n", `xiot.yaml:3: xmpp.reconnect_max: must not be less than reconnect_min (10s), not 5s`, nil},
		{"reconnect_min too small", "xmpp:\n  reconnect_min: 0s\n", `xiot.yaml:2: xmpp.reconnect_min: must be at least 100ms, not 0s`, nil},
		{"negative resume", "xmpp:\n  resume_timeout: -1s\n", `xiot.yaml:2: xmpp.resume_timeout: must not be negative, not -1s`, nil},
		{"stanza limit low", "xmpp:\n  max_stanza_bytes: 100\n", `xiot.yaml:2: xmpp.max_stanza_bytes: must be between 10000 and 16777216, not 100`, nil},
		{"both passwords", "account:\n  jid: a@b\n  password: x\n  password_file: /p\n", `xiot.yaml:3: account.password: set only one of password and password_file`, nil},
		{"server without port", "account:\n  server: example.org\n", `xiot.yaml:2: account.server: not host:port: "example.org"`, nil},
		{"server bad port", "account:\n  server: example.org:99999\n", `xiot.yaml:2: account.server: port must be 1..65535 in "example.org:99999"`, nil},
		{"owner with resource", "account:\n  owners:\n    - alice@example.org\n    - bob@example.org/phone\n", `xiot.yaml:4: account.owners[1]: must be a bare JID, not "bob@example.org/phone"; use "bob@example.org"`, nil},
		{"owner not a JID", "account:\n  owners: [\"x@@y\"]\n", `xiot.yaml:2: account.owners[0]: not a valid JID`, nil},
		{"empty owner", "account:\n  owners: [\"\"]\n", `xiot.yaml:2: account.owners[0]: must not be empty`, nil},
		{"board value", "board: rpi\n", `xiot.yaml:1: board: must be auto, sim or none, not "rpi"`, nil},
		{"log level", "log: {level: loud}\n", `xiot.yaml:1: log.level: must be debug, info, warn or error, not "loud"`, nil},
		{"log format", "log:\n  format: xml\n", `xiot.yaml:2: log.format: must be text or json, not "xml"`, nil},
		{"component partial", "component:\n  domain: reg.example.org\n  secret_file: /s\n", `xiot.yaml:1: component.server: required setting missing`, ErrMissing},
		{"component domain with local part", "component:\n  domain: x@reg.example.org\n  server: localhost:5347\n  secret_file: /s\n", `xiot.yaml:2: component.domain: must be a bare domain`, nil},
		{"empty state dir", "state_dir: \"\"\n", `xiot.yaml:1: state_dir: must not be empty`, nil},
		{"syntax error", "account:\n  jid: [\n", `xiot.yaml:2: not valid YAML: did not find expected node content`, nil},
		{"tab indentation", "account:\n\tjid: a@b\n", `xiot.yaml:2: not valid YAML: found character that cannot start any token`, nil},
		{"two documents", "board: sim\n---\nboard: none\n", `xiot.yaml:2: more than one YAML document`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Decode("xiot.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatalf("Decode succeeded with %+v, want error %q", c, tc.want)
			}
			first, _, _ := strings.Cut(err.Error(), "\n")
			if !strings.HasPrefix(first, tc.want) {
				t.Errorf("error:\n%v\nwant first line to start with\n%s", err, tc.want)
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.File != "xiot.yaml" || ce.Line == 0 {
				t.Errorf("error %v is not a located *Error (got %+v)", err, ce)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v does not wrap %v", err, tc.is)
			}
		})
	}
}

// TestDecodeReportsAll checks that one run reports every problem, in line
// order, and skips validation noise for keys that failed to decode.
func TestDecodeReportsAll(t *testing.T) {
	in := "board: rpi\naccount:\n  jid: \"a@@b\"\n  priority: 900\nxmpp:\n  keepalive: soon\n"
	_, err := Decode("x.yaml", []byte(in))
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	want := []string{"x.yaml:1: board:", "x.yaml:3: account.jid:", "x.yaml:4: account.priority:", "x.yaml:6: xmpp.keepalive:"}
	if len(lines) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%v", len(lines), len(want), err)
	}
	for i := range want {
		if !strings.HasPrefix(lines[i], want[i]) {
			t.Errorf("error %d = %q, want prefix %q", i, lines[i], want[i])
		}
	}
}

func TestDecodeValues(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "xiot.yaml")
	in := `
account:
  jid: Device@Example.org
  password_file: secrets/pw
  owners: [alice@example.org, &bob bob@example.org]
  priority: -5
  server: "[::1]:5222"
component:
  domain: reg.example.org
  server: localhost:5347
  secret_file: /etc/xiot/component
board: sim
log:
xmpp:
  keepalive: 0s
  resume_timeout: 2m
state_dir: state
`
	c, err := Decode(name, []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Account.JID.String(); got != "device@example.org/xiot" {
		t.Errorf("JID = %q, want the default resource and a normalised local part", got)
	}
	if got, want := c.Account.PasswordFile, filepath.Join(dir, "secrets/pw"); got != want {
		t.Errorf("password_file = %q, want %q (relative to the file)", got, want)
	}
	if got := c.StateDir; got != filepath.Join(dir, "state") {
		t.Errorf("state_dir = %q", got)
	}
	if c.Component.SecretFile != "/etc/xiot/component" {
		t.Errorf("absolute secret_file changed to %q", c.Component.SecretFile)
	}
	if len(c.Account.Owners) != 2 || c.Account.Owners[1].String() != "bob@example.org" {
		t.Errorf("owners = %v", c.Account.Owners)
	}
	if c.Account.Priority != -5 || c.Board != BoardSim || c.XMPP.Keepalive != 0 || c.XMPP.ResumeTimeout != 2*time.Minute {
		t.Errorf("values not decoded: %+v", c)
	}
	def := Default()
	if c.Log != def.Log || c.XMPP.ReconnectMax != def.XMPP.ReconnectMax || !c.XMPP.StreamManagement {
		t.Errorf("null section or left-out keys lost their defaults: log %+v xmpp %+v", c.Log, c.XMPP)
	}
	if c.Account.ServerName() != "example.org" {
		t.Errorf("ServerName() = %q", c.Account.ServerName())
	}
	if c.File() != name {
		t.Errorf("File() = %q", c.File())
	}
}

func TestDecodeEmpty(t *testing.T) {
	for _, in := range []string{"", "# only a comment\n", "---\n"} {
		c, err := Decode("e.yaml", []byte(in))
		if err != nil {
			t.Fatalf("Decode(%q): %v", in, err)
		}
		if c.String() != Default().String() {
			t.Errorf("Decode(%q) differs from Default:\n%s", in, c)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte("board: none\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(good)
	if err != nil || c.Board != BoardNone {
		t.Fatalf("Load(good) = %+v, %v", c, err)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) error = %v, want ErrNotExist", err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, []byte(strings.Repeat("#", maxFileSize+1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("Load(big) error = %v", err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("board: sim\nlog:\n  level: loud\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(bad); err == nil || !strings.HasPrefix(err.Error(), bad+":3: log.level:") {
		t.Errorf("Load(bad) error = %v, want it located at %s:3", err, bad)
	}
}

func TestSuggest(t *testing.T) {
	keys := []string{"jid", "password", "password_file", "server", "insecure_skip_verify"}
	tests := []struct{ word, want string }{
		{"pasword", "password"},
		{"password-file", "password_file"},
		{"jdi", "jid"},
		{"insecure_skip_verfy", "insecure_skip_verify"},
		{"x", ""},
		{"completely_different", ""},
	}
	for _, tc := range tests {
		got := suggest(tc.word, keys)
		if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, `"`+tc.want+`"`) {
			t.Errorf("suggest(%q) = %q, want %q", tc.word, got, tc.want)
		}
	}
}
