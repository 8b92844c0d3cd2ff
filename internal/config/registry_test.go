package config

import (
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
