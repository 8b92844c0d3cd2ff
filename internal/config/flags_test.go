package config

import (
	"flag"
	"strings"
	"testing"
)

func TestApplyFlags(t *testing.T) {
	base := "account:\n  jid: file@example.org\n  password: inline\n  server: a.example.org:5222\nboard: sim\n"
	tests := []struct {
		name    string
		args    []string
		check   func(t *testing.T, c *Config)
		wantErr string // prefix of the error
	}{
		{"no flags keeps the file", nil, func(t *testing.T, c *Config) {
			if c.Account.JID.String() != "file@example.org/xiot" || c.Board != BoardSim || c.Account.InsecureSkipVerify {
				t.Errorf("config changed: %+v", c.Account)
			}
		}, ""},
		{"all flags", []string{"--jid", "flag@example.net", "--password-file", "/run/pw", "--server", "b.example.net:5223", "--ca-file", "ca.pem", "--board", "none", "--insecure"}, func(t *testing.T, c *Config) {
			a := c.Account
			if a.JID.String() != "flag@example.net/xiot" || a.PasswordFile != "/run/pw" || a.Password != "" ||
				a.Server != "b.example.net:5223" || a.CAFile != "ca.pem" || c.Board != BoardNone || !a.InsecureSkipVerify {
				t.Errorf("flags not applied: board %q %+v", c.Board, a)
			}
			if w := c.Warnings(); len(w) != 2 || !strings.HasPrefix(w[0], "flag --insecure: account.insecure_skip_verify:") ||
				!strings.HasPrefix(w[1], "flag --ca-file: account.ca_file: ignored") {
				t.Errorf("Warnings() = %q", w)
			}
		}, ""},
		{"bad JID", []string{"--jid", "a@@b"}, nil, `flag --jid: account.jid: not a valid JID: "a@@b"`},
		{"JID without local part", []string{"--jid", "example.org"}, nil, `flag --jid: account.jid: "example.org" has no local part`},
		{"bad board", []string{"--board", "pi"}, nil, `flag --board: board: must be auto, sim or none, not "pi"`},
		{"bad server", []string{"--server", "nohost"}, nil, `flag --server: account.server: not host:port`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Decode("x.yaml", []byte(base))
			if err != nil {
				t.Fatal(err)
			}
			var o Overrides
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			o.Register(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			err = c.ApplyFlags(o)
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
					t.Fatalf("ApplyFlags error = %v, want prefix %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

// TestApplyFlagsDoesNotAlias checks that overriding a copy does not change
// where the original's errors point.
func TestApplyFlagsDoesNotAlias(t *testing.T) {
	c, err := Decode("x.yaml", []byte("account:\n  jid: a@example.org\n  priority: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	cp := *c
	if err := cp.ApplyFlags(Overrides{Board: "sim"}); err != nil {
		t.Fatal(err)
	}
	c.Board = "bad"
	if err := c.validate(); err == nil || !strings.HasPrefix(err.Error(), "x.yaml: board:") {
		t.Errorf("original's error = %v, want it located in the file, not at a flag", err)
	}
}

func TestDefaultWithFlags(t *testing.T) {
	c := Default()
	if err := c.ApplyFlags(Overrides{JID: "dev@example.org/lab", PasswordFile: "/pw"}); err != nil {
		t.Fatal(err)
	}
	if c.Account.JID.String() != "dev@example.org/lab" || c.File() != "" {
		t.Errorf("got %v %q", c.Account.JID, c.File())
	}
}
