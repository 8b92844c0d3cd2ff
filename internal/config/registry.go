package config

import (
	"net/url"
	"path/filepath"
	"strings"
	"time"
)

// Registry configures "xiot registry": the XEP-0347 thing registry and
// XEP-0324 provisioning server, run as the component of the component
// section.
type Registry struct {
	// Store is where the registry keeps things and rules: a SQLite file
	// (empty means state_dir/registry.db; relative to the configuration
	// file's directory) or a postgres:// or postgresql:// URL, for
	// several registry instances on one PostgreSQL database. A URL holds
	// no password: see StorePasswordFile.
	Store string `yaml:"store"`
	// StorePasswordFile holds the PostgreSQL password (mode 0600); empty
	// leaves it to PGPASSWORD or ~/.pgpass.
	StorePasswordFile string `yaml:"store_password_file" xiot:"path"`
	// MaxResults caps the things one search returns; 0 means 100.
	MaxResults int `yaml:"max_results"`
	// ClaimBurst claims are accepted at once from one JID, then one per
	// ClaimInterval; 0 means 5 and 2s.
	ClaimBurst    int           `yaml:"claim_burst"`
	ClaimInterval time.Duration `yaml:"claim_interval"`
	// NotifyTimeout bounds each notification to a thing (claimed,
	// removed, disowned, clearCache); 0 means 10s.
	NotifyTimeout time.Duration `yaml:"notify_timeout"`
}

// Bounds of the registry section.
const maxRegistryResults = 10000

// RegistryStore returns the registry's store: a postgres:// URL as
// given (without password), or the path of the SQLite file.
func (c *Config) RegistryStore() string {
	s := c.Registry.Store
	switch {
	case s == "":
		return filepath.Join(c.StateDir, "registry.db")
	case isDatabaseURL(s) || filepath.IsAbs(s) || c.src.file == "":
		return s
	}
	return filepath.Join(filepath.Dir(c.src.file), s)
}

// RegistryStoreURL returns the registry's store with the password of
// registry.store_password_file put into a postgres:// URL. It is a
// secret: log RegistryStore instead.
func (c *Config) RegistryStoreURL() (string, error) {
	s := c.RegistryStore()
	if !isDatabaseURL(s) || c.Registry.StorePasswordFile == "" {
		return s, nil
	}
	pw, err := ReadSecretFile(c.Registry.StorePasswordFile)
	if err != nil {
		return "", c.src.atf("registry.store_password_file", "%w", err)
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", c.src.atf("registry.store", "not a URL: %w", err)
	}
	u.User = url.UserPassword(u.User.Username(), pw)
	return u.String(), nil
}

// isDatabaseURL reports whether s names a PostgreSQL database.
func isDatabaseURL(s string) bool {
	l := strings.ToLower(s)
	return strings.HasPrefix(l, "postgres://") || strings.HasPrefix(l, "postgresql://")
}

// checkStore validates registry.store and registry.store_password_file.
func (c *Config) checkStore() error {
	r := c.Registry
	if !isDatabaseURL(r.Store) {
		if r.StorePasswordFile != "" {
			return c.src.atf("registry.store_password_file", "is for a postgres:// store, not the file %q", r.Store)
		}
		if strings.Contains(r.Store, "://") {
			return c.src.atf("registry.store", "must be a file or a postgres:// URL, not %q", r.Store)
		}
		return nil
	}
	u, err := url.Parse(r.Store)
	if err != nil {
		return c.src.atf("registry.store", "not a URL: %v", strings.ReplaceAll(err.Error(), r.Store, "(the URL)"))
	}
	_, inline := u.User.Password()
	if q := u.Query(); q.Has("password") {
		inline = true
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	if inline {
		return c.src.atf("registry.store", "%s: holds a password, which \"xiot config\" would show: put it in registry.store_password_file (mode 0600) or ~/.pgpass", u.Redacted())
	}
	return nil
}

// checkRegistry validates the registry section.
func (c *Config) checkRegistry() []error {
	var errs []error
	add := func(key, format string, args ...any) { errs = append(errs, c.src.atf(key, format, args...)) }
	r := c.Registry
	if r.MaxResults < 0 || r.MaxResults > maxRegistryResults {
		add("registry.max_results", "must be between 0 (default) and %d, not %d", maxRegistryResults, r.MaxResults)
	}
	if r.ClaimBurst < 0 || r.ClaimBurst > 1000 {
		add("registry.claim_burst", "must be between 0 (default) and 1000, not %d", r.ClaimBurst)
	}
	if r.ClaimInterval < 0 {
		add("registry.claim_interval", "must not be negative, not %v", r.ClaimInterval)
	}
	if r.NotifyTimeout < 0 {
		add("registry.notify_timeout", "must not be negative, not %v", r.NotifyTimeout)
	}
	if err := c.checkStore(); err != nil {
		errs = append(errs, err)
	}
	return errs
}
