package config

import (
	"errors"
	"flag"

	"mellium.im/xmpp/jid"
)

// Overrides are command-line values that take precedence over the file.
// Empty strings and a false Insecure leave the configuration alone.
type Overrides struct {
	JID          string // --jid: account.jid
	PasswordFile string // --password-file: account.password_file (clears account.password)
	Server       string // --server: account.server
	CAFile       string // --ca-file: account.ca_file
	Board        string // --board: board
	Insecure     bool   // --insecure: account.insecure_skip_verify = true
	StateDir     string // --state-dir: state_dir
	LogFormat    string // --log-format: log.format
	LogLevel     string // --log-level: log.level
}

// Register defines the override flags on fs with their standard names and
// help texts, so every subcommand spells them the same way.
func (o *Overrides) Register(fs *flag.FlagSet) {
	fs.StringVar(&o.JID, "jid", "", "account JID, e.g. device@example.org (overrides account.jid)")
	fs.StringVar(&o.PasswordFile, "password-file", "", "file holding the account password, mode 0600 (overrides account.password_file)")
	fs.StringVar(&o.Server, "server", "", "server `host:port`, skipping DNS SRV (overrides account.server)")
	fs.StringVar(&o.CAFile, "ca-file", "", "PEM CA bundle replacing the system roots (overrides account.ca_file)")
	fs.StringVar(&o.Board, "board", "", "board: auto, sim or none (overrides board)")
	fs.StringVar(&o.StateDir, "state-dir", "", "`directory` for persisted state: history, overrides, audit log (overrides state_dir)")
	fs.StringVar(&o.LogFormat, "log-format", "", "log format: text or json (overrides log.format)")
	fs.StringVar(&o.LogLevel, "log-level", "", "log level: debug, info, warn or error (overrides log.level)")
	fs.BoolVar(&o.Insecure, "insecure", false, "do NOT verify the server certificate (test servers only)")
}

// ApplyFlags applies the overrides and validates the result; errors name
// the flag ("flag --jid: account.jid: ..."). Relative paths are taken
// relative to the working directory. On error c may be partly updated and
// should not be used.
func (c *Config) ApplyFlags(o Overrides) error {
	var errs []error
	if o.JID != "" {
		c.src.setFlag("account.jid", "--jid")
		j, err := jid.Parse(o.JID)
		if err != nil {
			errs = append(errs, c.src.atf("account.jid", "not a valid JID: %q: %v", o.JID, err))
		} else {
			c.Account.JID = j
		}
	}
	if o.PasswordFile != "" {
		c.src.setFlag("account.password_file", "--password-file")
		c.src.setFlag("account.password", "--password-file")
		c.Account.PasswordFile = o.PasswordFile
		c.Account.Password = ""
	}
	if o.Server != "" {
		c.src.setFlag("account.server", "--server")
		c.Account.Server = o.Server
	}
	if o.CAFile != "" {
		c.src.setFlag("account.ca_file", "--ca-file")
		c.Account.CAFile = o.CAFile
	}
	if o.Board != "" {
		c.src.setFlag("board", "--board")
		c.Board = o.Board
	}
	if o.StateDir != "" {
		c.src.setFlag("state_dir", "--state-dir")
		c.StateDir = o.StateDir
	}
	if o.LogFormat != "" {
		c.src.setFlag("log.format", "--log-format")
		c.Log.Format = o.LogFormat
	}
	if o.LogLevel != "" {
		c.src.setFlag("log.level", "--log-level")
		c.Log.Level = o.LogLevel
	}
	if o.Insecure {
		c.src.setFlag("account.insecure_skip_verify", "--insecure")
		c.Account.InsecureSkipVerify = true
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return c.validate()
}
