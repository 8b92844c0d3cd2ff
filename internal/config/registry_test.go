package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRegistryCheck(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"negative results", "  max_results: -1\n", "registry.max_results: must be between 0"},
		{"too many results", "  max_results: 10001\n", "registry.max_results: must be between 0"},
		{"negative burst", "  claim_burst: -1\n", "registry.claim_burst: must be between 0"},
		{"negative interval", "  claim_interval: -1s\n", "registry.claim_interval: must not be negative"},
		{"negative timeout", "  notify_timeout: -1s\n", "registry.notify_timeout: must not be negative"},
	}
	for _, tt := range tests {
		_, err := Decode("xiot.yaml", []byte("registry:\n"+tt.yaml))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestRegistryStore(t *testing.T) {
	c, err := Decode("xiot.yaml", []byte("state_dir: /srv/x\nregistry:\n  max_results: 50\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.RegistryStore(); got != filepath.Join("/srv/x", "registry.db") {
		t.Errorf("default store %q", got)
	}
	c, err = Decode("xiot.yaml", []byte("registry:\n  store: /data/r.db\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.RegistryStore(); got != "/data/r.db" {
		t.Errorf("store %q", got)
	}
}

func TestRegistryStoreTargets(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pg.pass")
	if err := os.WriteFile(pwFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "xiot.yaml")
	tests := []struct {
		name, yaml     string
		store, url, em string
	}{
		{"relative file", "  store: data/r.db\n", filepath.Join(dir, "data/r.db"), filepath.Join(dir, "data/r.db"), ""},
		{"url", "  store: postgres://reg@db.example.org/xiot\n", "postgres://reg@db.example.org/xiot", "postgres://reg@db.example.org/xiot", ""},
		{"url and password file", "  store: postgresql://reg@db/xiot?sslmode=require\n  store_password_file: pg.pass\n",
			"postgresql://reg@db/xiot?sslmode=require", "postgresql://reg:s3cret@db/xiot?sslmode=require", ""},
		{"inline password", "  store: postgres://reg:s3cret@db/xiot\n", "", "", "registry.store: postgres://reg:xxxxx@db/xiot: holds a password"},
		{"password parameter", "  store: postgres://reg@db/xiot?password=s3cret\n", "", "", "registry.store: postgres://reg@db/xiot?password=xxxxx: holds a password"},
		{"password file for a file", "  store: r.db\n  store_password_file: pg.pass\n", "", "", "registry.store_password_file: is for a postgres:// store"},
		{"other scheme", "  store: mysql://db/xiot\n", "", "", "registry.store: must be a file or a postgres:// URL"},
	}
	for _, tt := range tests {
		c, err := Decode(cfgFile, []byte("registry:\n"+tt.yaml))
		if tt.em != "" {
			if err == nil || !strings.Contains(err.Error(), tt.em) || strings.Contains(err.Error(), "s3cret") {
				t.Errorf("%s: %v, want %q", tt.name, err, tt.em)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got := c.RegistryStore(); got != tt.store {
			t.Errorf("%s: RegistryStore %q, want %q", tt.name, got, tt.store)
		}
		if got, err := c.RegistryStoreURL(); err != nil || got != tt.url {
			t.Errorf("%s: RegistryStoreURL %q, %v; want %q", tt.name, got, err, tt.url)
		}
	}
}
