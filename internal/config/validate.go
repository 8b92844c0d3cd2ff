package config

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"mellium.im/xmpp/jid"
)

// Bounds enforced by validate.
const (
	minStanzaBytes = 10000    // RFC 6120 §13.12: servers accept at least 10000 bytes
	maxStanzaBytes = 16 << 20 // beyond this a stanza is an attack, not data
	minKeepalive   = time.Second
	minReconnect   = 100 * time.Millisecond
)

// validate checks the values and their combinations, normalises the
// account JID (default resource) and returns every problem found.
func (c *Config) validate() error {
	return errors.Join(c.checks()...)
}

// checks is validate returning the problems one by one.
func (c *Config) checks() []error {
	var errs []error
	add := func(key string, format string, args ...any) {
		errs = append(errs, c.src.atf(key, format, args...))
	}
	c.validateAccount(add)
	c.validateComponent(add)

	switch c.Board {
	case BoardAuto, BoardSim, BoardNone:
	default:
		add("board", "must be %s, %s or %s, not %q", BoardAuto, BoardSim, BoardNone, c.Board)
	}
	if _, ok := parseLevel(c.Log.Level); !ok {
		add("log.level", "must be debug, info, warn or error, not %q", c.Log.Level)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		add("log.format", "must be text or json, not %q", c.Log.Format)
	}

	x := c.XMPP
	if x.MaxStanzaBytes < minStanzaBytes || x.MaxStanzaBytes > maxStanzaBytes {
		add("xmpp.max_stanza_bytes", "must be between %d and %d, not %d", minStanzaBytes, maxStanzaBytes, x.MaxStanzaBytes)
	}
	if x.Keepalive != 0 && x.Keepalive < minKeepalive {
		add("xmpp.keepalive", "must be 0 (disabled) or at least %v, not %v", minKeepalive, x.Keepalive)
	}
	if x.ReconnectMin < minReconnect {
		add("xmpp.reconnect_min", "must be at least %v, not %v", minReconnect, x.ReconnectMin)
	}
	if x.ReconnectMax < x.ReconnectMin {
		add("xmpp.reconnect_max", "must not be less than reconnect_min (%v), not %v", x.ReconnectMin, x.ReconnectMax)
	}
	if x.ResumeTimeout < 0 {
		add("xmpp.resume_timeout", "must not be negative, not %v", x.ResumeTimeout)
	}
	if c.StateDir == "" {
		add("state_dir", "must not be empty")
	}
	errs = append(errs, c.checkSensors()...)
	errs = append(errs, c.checkOutputs()...)
	errs = append(errs, c.checkMQTT()...)
	errs = append(errs, c.checkPush()...)
	errs = append(errs, c.checkEXI()...)
	errs = append(errs, c.checkRegistry()...)
	if c.Provisioning.Timeout < 0 {
		add("provisioning.timeout", "must not be negative, not %v", c.Provisioning.Timeout)
	}
	if c.History.MaxAge < 0 {
		add("history.max_age", "must not be negative, not %v", c.History.MaxAge)
	}
	if c.History.MaxBytes < 0 {
		add("history.max_bytes", "must not be negative, not %d", c.History.MaxBytes)
	}
	if l := c.Metrics.Listen; l != "" {
		if err := checkHostPort(l); err != nil {
			add("metrics.listen", "%v", err)
		}
	}
	return errs
}

func (c *Config) validateAccount(add func(key, format string, args ...any)) {
	a := &c.Account
	if a.JID.Domainpart() != "" {
		if a.JID.Localpart() == "" {
			add("account.jid", "%q has no local part; use user@%s", a.JID, a.JID.Domainpart())
		}
		if a.JID.Resourcepart() == "" {
			full, err := a.JID.WithResource(DefaultResource)
			if err != nil {
				add("account.jid", "adding resource %q: %v", DefaultResource, err)
			} else {
				a.JID = full
			}
		}
	}
	if a.Password != "" && a.PasswordFile != "" {
		add("account.password", "set only one of password and password_file")
	}
	if a.Server != "" {
		if err := checkHostPort(a.Server); err != nil {
			add("account.server", "%v", err)
		}
	}
	if a.Priority < -128 || a.Priority > 127 {
		add("account.priority", "must be between -128 and 127, not %d", a.Priority)
	}
	for i, o := range a.Owners {
		if o.Domainpart() == "" {
			add(fmt.Sprintf("account.owners[%d]", i), "must not be empty")
		} else if o.Resourcepart() != "" {
			add(fmt.Sprintf("account.owners[%d]", i), "must be a bare JID, not %q; use %q", o, o.Bare())
		}
	}
}

func (c *Config) validateComponent(add func(key, format string, args ...any)) {
	cp := c.Component
	if !cp.Enabled() {
		return
	}
	if cp.Domain == "" {
		add("component.domain", "%w: the component section is partly set", ErrMissing)
	} else if j, err := jid.Parse(cp.Domain); err != nil {
		add("component.domain", "not a valid domain: %q: %v", cp.Domain, err)
	} else if j.Localpart() != "" || j.Resourcepart() != "" {
		add("component.domain", "must be a bare domain such as registry.example.org, not %q", cp.Domain)
	}
	if cp.Server == "" {
		add("component.server", "%w: the component section is partly set", ErrMissing)
	} else if err := checkHostPort(cp.Server); err != nil {
		add("component.server", "%v", err)
	}
	if cp.SecretFile == "" {
		add("component.secret_file", "%w: the component section is partly set", ErrMissing)
	}
}

// checkHostPort accepts "host:port" with a port in 1..65535.
func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("not host:port: %q", s)
	}
	if host == "" {
		return fmt.Errorf("no host in %q", s)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("port must be 1..65535 in %q", s)
	}
	return nil
}

// Warnings returns the risky but valid choices in the configuration, one
// message each in the same "file:line: key: message" form as errors. A
// daemon should log them at startup.
func (c *Config) Warnings() []string {
	var w []string
	add := func(key, msg string) {
		w = append(w, c.src.atf(key, "%s", msg).Error())
	}
	a := c.Account
	if a.Password != "" {
		add("account.password", "password stored inline; anyone who can read this file can log in as the device: move it to password_file (mode 0600)")
	}
	if a.InsecureSkipVerify {
		add("account.insecure_skip_verify", "TLS CERTIFICATE VERIFICATION IS OFF: anyone on the network path can impersonate the server and read the password; use ca_file instead")
		if a.AllowPlain {
			add("account.allow_plain", "SASL PLAIN over an unverified TLS connection sends the password to whoever answers")
		}
	}
	if a.CAFile != "" && a.InsecureSkipVerify {
		add("account.ca_file", "ignored because insecure_skip_verify is true")
	}
	return w
}
