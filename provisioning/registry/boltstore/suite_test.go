package boltstore

import (
	"path/filepath"
	"testing"

	"github.com/xiot/xiot/provisioning/registry"
	"github.com/xiot/xiot/provisioning/registry/storetest"
)

func TestSuite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (registry.Store, func() registry.Store) {
		path := filepath.Join(t.TempDir(), "registry.db")
		open := func() registry.Store {
			s, err := Open(path, 0)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		return open(), open
	})
}
