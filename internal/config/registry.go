package config

import (
	"path/filepath"
	"time"
)

// Registry configures "xiot registry": the XEP-0347 thing registry and
// XEP-0324 provisioning server, run as the component of the component
// section.
type Registry struct {
	// Store is the registry's database file (bbolt); empty means
	// state_dir/registry.db.
	Store string `yaml:"store" xiot:"path"`
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

// RegistryStore returns the path of the registry's database.
func (c *Config) RegistryStore() string {
	if c.Registry.Store != "" {
		return c.Registry.Store
	}
	return filepath.Join(c.StateDir, "registry.db")
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
	return errs
}
