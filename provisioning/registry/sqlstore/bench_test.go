package sqlstore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/provisioning/registry"
	"github.com/xiot/xiot/provisioning/registry/boltstore"
)

// benchThings is the number of things BenchmarkSearch registers:
// XIOT_BENCH_THINGS, by default 100,000.
func benchThings(b *testing.B) int {
	if s := os.Getenv("XIOT_BENCH_THINGS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1000 || n%100000 != 0 && 100000%n != 0 {
			b.Fatalf("XIOT_BENCH_THINGS=%q: want 1000, 10000, 100000 or a multiple of 100000", s)
		}
		return n
	}
	return 100000
}

// benchThing is the i-th thing of the benchmark: claimed and public, with
// a MODEL among 100 and a serial number.
func benchThing(i int) registry.Thing {
	return registry.Thing{
		Key: registry.Key{JID: fmt.Sprintf("thing%06d@example.org", i)}, Owner: fmt.Sprintf("owner%d@example.org", i%1000), Public: true,
		Tags: []registry.Tag{
			{Name: "KEY", Value: fmt.Sprintf("secret%06d", i)}, {Name: "MAN", Value: "www.ktc.se"}, {Name: "MODEL", Value: fmt.Sprintf("M%d", i%100)},
			{Name: "SN", Value: fmt.Sprintf("%018d", i)}, {Name: "V", Num: float64(i%30) / 10, Numeric: true},
		},
	}
}

// benchQueries are the searches measured, as the registry runs them (20
// results at most): selective finds one thing among n, broad matches
// every thing and returns the first page.
func benchQueries(n int) []struct {
	name  string
	ops   []registry.Operator
	found int
	more  bool
} {
	last := n - 1 // MODEL M99; the only one whose SN ends so
	return []struct {
		name  string
		ops   []registry.Operator
		found int
		more  bool
	}{
		{"selective", []registry.Operator{
			{Op: "strEq", Name: "MODEL", Value: "M99"},
			{Op: "strMask", Name: "SN", Value: fmt.Sprintf("%013d*%05d", 0, last%100000), Wildcard: "*"},
			{Op: "numRange", Name: "V", MinNum: 0, MaxNum: 3, MinIncluded: true},
		}, 1, false},
		{"broad", []registry.Operator{
			{Op: "strMask", Name: "MAN", Value: "www.*", Wildcard: "*"},
			{Op: "numRange", Name: "V", MinNum: 0, MaxNum: 3, MinIncluded: true},
		}, 20, true},
	}
}

// searcher is how a benchmark searches one store.
type searcher func(ctx context.Context, ops []registry.Operator, offset, limit int) ([]registry.Thing, bool, error)

// BenchmarkSearch measures searches over 100,000 registered things in
// SQLite, PostgreSQL (a throwaway server on loopback) and, as the
// baseline of the scan, bbolt. Besides ns/op it reports the load time
// and the p50 and p99 latency of one search; bench/registry.sh prints
// them side by side.
func BenchmarkSearch(b *testing.B) {
	ctx := context.Background()
	n := benchThings(b)
	things := make([]registry.Thing, n)
	for i := range things {
		things[i] = benchThing(i)
	}
	stores := []struct {
		name string
		open func(b *testing.B) (searcher, func([]registry.Thing) error, func())
	}{
		{"sqlite", func(b *testing.B) (searcher, func([]registry.Thing) error, func()) {
			s, err := Open(ctx, filepath.Join(b.TempDir(), "r.db"), Options{})
			if err != nil {
				b.Fatal(err)
			}
			return s.Search, func(ts []registry.Thing) error { return s.putAll(ctx, ts) }, func() { s.Close() }
		}},
		{"postgres", func(b *testing.B) (searcher, func([]registry.Thing) error, func()) {
			s, err := Open(ctx, testserver.StartPostgres(b).URL, Options{})
			if err != nil {
				b.Fatal(err)
			}
			return s.Search, func(ts []registry.Thing) error { return s.putAll(ctx, ts) }, func() { s.Close() }
		}},
		{"bolt-scan", func(b *testing.B) (searcher, func([]registry.Thing) error, func()) {
			s, err := boltstore.Open(filepath.Join(b.TempDir(), "r.db"), 0)
			if err != nil {
				b.Fatal(err)
			}
			search := func(ctx context.Context, ops []registry.Operator, offset, limit int) ([]registry.Thing, bool, error) {
				return registry.ScanSearch(ctx, s, ops, offset, limit)
			}
			return search, func(ts []registry.Thing) error {
				for batch := range slices.Chunk(ts, 5000) {
					if err := s.PutThings(ctx, batch); err != nil {
						return err
					}
				}
				return nil
			}, func() { s.Close() }
		}},
	}
	for _, st := range stores {
		b.Run(st.name, func(b *testing.B) {
			search, put, done := st.open(b)
			defer done()
			start := time.Now()
			if err := put(things); err != nil {
				b.Fatal(err)
			}
			load := time.Since(start)
			for _, q := range benchQueries(n) {
				b.Run(q.name, func(b *testing.B) {
					b.ReportAllocs()
					var lat []time.Duration
					for b.Loop() {
						t0 := time.Now()
						found, more, err := search(ctx, q.ops, 0, 20)
						lat = append(lat, time.Since(t0))
						if err != nil {
							b.Fatal(err)
						}
						if len(found) != q.found || more != q.more {
							b.Fatalf("found %d things (more %v), want %d (more %v)", len(found), more, q.found, q.more)
						}
					}
					slices.Sort(lat)
					pct := func(p int) float64 { return float64(lat[(len(lat)-1)*p/100].Microseconds()) }
					b.ReportMetric(pct(50), "p50-us")
					b.ReportMetric(pct(99), "p99-us")
					b.ReportMetric(load.Seconds(), "load-s")
				})
			}
		})
	}
}

// putAll imports ts as an import would: transactions of 5000 things, then
// Analyze.
func (s *Store) putAll(ctx context.Context, ts []registry.Thing) error {
	for batch := range slices.Chunk(ts, 5000) {
		if err := s.PutThings(ctx, batch); err != nil {
			return err
		}
	}
	return s.Analyze(ctx)
}
