package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
)

// maxSecretSize bounds secret files; a password is not a megabyte.
const maxSecretSize = 64 << 10

// redacted replaces secrets in every printed form.
const redacted = "[redacted]"

// Secret is a string that never prints itself: String, GoString, LogValue,
// MarshalJSON and MarshalText (used by YAML) all give "[redacted]", or ""
// when empty, so a Config can be logged or printed safely. Convert with
// string(s) where the value is really needed.
type Secret string

// String returns "[redacted]", or "" for an empty secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing the secret.
func (s Secret) GoString() string { return fmt.Sprintf("config.Secret(%q)", s.String()) }

// LogValue keeps slog from printing the secret.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText keeps text encoders (and yaml) from printing the secret.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// MarshalJSON keeps encoding/json from printing the secret.
func (s Secret) MarshalJSON() ([]byte, error) { return fmt.Appendf(nil, "%q", s.String()), nil }

// Password returns the account password, from account.password or read
// from account.password_file. The file must be a regular file that neither
// group nor others can read (see ErrUnsafePermissions); one trailing
// newline is removed.
func (c *Config) Password() (string, error) {
	a := c.Account
	switch {
	case a.Password != "" && a.PasswordFile != "":
		return "", c.src.atf("account.password", "set only one of password and password_file")
	case a.Password != "":
		return string(a.Password), nil
	case a.PasswordFile != "":
		p, err := ReadSecretFile(a.PasswordFile)
		if err != nil {
			return "", c.src.at("account.password_file", err)
		}
		return p, nil
	}
	return "", c.src.atf("account", "%w: set password_file (or password, or --password-file)", ErrMissing)
}

// ComponentSecret returns the XEP-0114 shared secret read from
// component.secret_file, with the same checks as Password.
func (c *Config) ComponentSecret() (string, error) {
	if c.Component.SecretFile == "" {
		return "", c.src.atf("component.secret_file", "%w", ErrMissing)
	}
	s, err := ReadSecretFile(c.Component.SecretFile)
	if err != nil {
		return "", c.src.at("component.secret_file", err)
	}
	return s, nil
}

// ReadSecretFile reads a secret (password, shared secret) from path. It
// refuses files that are not regular files or that group or others may
// read (mode & 0o077 != 0), with an error wrapping ErrUnsafePermissions that
// says how to fix it. One trailing newline ("\n" or "\r\n") is removed; an
// empty secret is an error.
func ReadSecretFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("secret file: %w", err)
	}
	defer f.Close()
	// Stat the open file, not the path, so the checked file is the read one.
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("secret file %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("secret file %s: %w: not a regular file (%s)", path, ErrUnsafePermissions, fi.Mode().Type())
	}
	// Windows has no Unix permission bits; its ACLs are not checked here.
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return "", fmt.Errorf("secret file %s: %w: mode %#o lets group or others read it; fix with: chmod 600 %s",
			path, ErrUnsafePermissions, perm, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSecretSize+1))
	if err != nil {
		return "", fmt.Errorf("secret file %s: %w", path, err)
	}
	if len(data) > maxSecretSize {
		return "", fmt.Errorf("secret file %s: larger than %d bytes", path, maxSecretSize)
	}
	data = bytes.TrimSuffix(data, []byte("\n"))
	data = bytes.TrimSuffix(data, []byte("\r"))
	if len(data) == 0 {
		return "", fmt.Errorf("secret file %s: %w: the file is empty", path, ErrMissing)
	}
	return string(data), nil
}

// Preflight checks what Load leaves alone because it needs the target
// machine: an account JID and password source are set, the password file
// is readable and safe, the CA bundle parses, and, when a component is
// configured, its secret file is readable and safe. A configuration with a
// component and no account JID (a component-only service) skips the
// account checks. Call it after ApplyFlags and before starting a daemon;
// it returns every problem found.
func (c *Config) Preflight() error {
	var errs []error
	if c.Account.JID.Domainpart() != "" || !c.Component.Enabled() {
		if c.Account.JID.Domainpart() == "" {
			errs = append(errs, c.src.atf("account.jid", "%w: set account.jid (or --jid)", ErrMissing))
		}
		if _, err := c.Password(); err != nil {
			errs = append(errs, err)
		}
		if _, err := c.TLSConfig(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Component.Enabled() {
		if _, err := c.ComponentSecret(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
