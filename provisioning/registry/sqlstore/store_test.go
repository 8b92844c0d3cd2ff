package sqlstore

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/provisioning/registry"
	"github.com/xiot/xiot/provisioning/registry/storetest"
)

// sqliteStores makes stores in new files.
func sqliteStores(t *testing.T) (registry.Store, func() registry.Store) {
	path := filepath.Join(t.TempDir(), "registry.db")
	open := func() registry.Store {
		s, err := Open(context.Background(), path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	return open(), open
}

// postgresStores makes stores in new databases of one throwaway server.
func postgresStores(pg *testserver.Postgres) storetest.Factory {
	var n atomic.Int64
	return func(t *testing.T) (registry.Store, func() registry.Store) {
		url, err := pg.CreateDatabase(context.Background(), fmt.Sprintf("store%d", n.Add(1)))
		if err != nil {
			t.Fatal(err)
		}
		open := func() registry.Store {
			s, err := Open(context.Background(), url, Options{})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		return open(), open
	}
}

func TestStores(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { storetest.Run(t, sqliteStores) })
	t.Run("postgres", func(t *testing.T) { storetest.Run(t, postgresStores(testserver.StartPostgres(t))) })
}
