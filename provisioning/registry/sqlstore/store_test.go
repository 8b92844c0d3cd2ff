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

// probing returns f with its stores' probeCap set to n: 1 makes every
// search operator broad (things read in key order), 2 mixes both plans.
func probing(f storetest.Factory, n int) storetest.Factory {
	return func(t *testing.T) (registry.Store, func() registry.Store) {
		s, reopen := f(t)
		s.(*Store).probeCap = n
		return s, reopen
	}
}

func TestStores(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { storetest.Run(t, sqliteStores) })
	t.Run("sqlite key order", func(t *testing.T) { storetest.RunSearcher(t, probing(sqliteStores, 1)) })
	t.Run("sqlite mixed", func(t *testing.T) { storetest.RunSearcher(t, probing(sqliteStores, 2)) })
	t.Run("postgres", func(t *testing.T) { storetest.Run(t, postgresStores(testserver.StartPostgres(t))) })
}

// TestPutThings writes things in batches, some keys twice (the last
// write wins) and one thing with many tags.
func TestPutThings(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			var s registry.Store
			if engine == "sqlite" {
				s, _ = sqliteStores(t)
			} else {
				s, _ = postgresStores(testserver.StartPostgres(t))(t)
			}
			defer s.Close()
			var ts []registry.Thing
			want := map[string]registry.Thing{}
			for i := range 450 {
				th := registry.Thing{Key: registry.Key{JID: fmt.Sprintf("t%d@x", i%300)}, Owner: fmt.Sprint("o", i),
					Tags: []registry.Tag{{Name: "I", Num: float64(i), Numeric: true}}}
				if i == 10 {
					for j := range 6000 {
						th.Tags = append(th.Tags, registry.Tag{Name: fmt.Sprintf("T%05d", j), Value: "v"})
					}
				}
				ts = append(ts, th)
				want[th.Key.String()] = th
			}
			if err := s.(*Store).PutThings(ctx, ts); err != nil {
				t.Fatal(err)
			}
			n := 0
			if err := s.Things(ctx, "", func(th registry.Thing) bool {
				n++
				if w := want[th.Key.String()]; th.Owner != w.Owner || len(th.Tags) != len(w.Tags) {
					t.Errorf("%s: owner %s, %d tags; want %s, %d", th.JID, th.Owner, len(th.Tags), w.Owner, len(w.Tags))
				}
				return true
			}); err != nil || n != len(want) {
				t.Fatalf("%d things, %v; want %d", n, err, len(want))
			}
			var tagged int
			if err := s.(*Store).ThingsTagged(ctx, registry.Tag{Name: "I", Num: 449, Numeric: true}, func(registry.Thing) bool { tagged++; return true }); err != nil || tagged != 1 {
				t.Fatalf("the last write of t149@x: %d things tagged I=449, %v", tagged, err)
			}
		})
	}
}
