package boltstore

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/xiot/xiot/provisioning/registry"
)

// BenchmarkSearch100k measures a search as the registry runs it (a scan
// of every thing, matched against three operators) over 100,000 claimed
// public things, in the worst case: one match, at the end.
func BenchmarkSearch100k(b *testing.B) {
	ctx := context.Background()
	s, err := Open(filepath.Join(b.TempDir(), "r.db"), 0)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const n = 100000
	batch := make([]registry.Thing, 0, 10000)
	for i := range n {
		batch = append(batch, registry.Thing{
			Key: registry.Key{JID: fmt.Sprintf("thing%06d@example.org", i)}, Owner: "owner@example.org", Public: true,
			Tags: []registry.Tag{
				{Name: "KEY", Value: "secret"}, {Name: "MAN", Value: "www.ktc.se"}, {Name: "MODEL", Value: fmt.Sprintf("M%d", i%100)},
				{Name: "SN", Value: fmt.Sprintf("%018d", i)}, {Name: "V", Num: float64(i%30) / 10, Numeric: true},
			},
		})
		if len(batch) == cap(batch) {
			if err := s.PutThings(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	ops := []registry.Operator{
		{Op: "strEq", Name: "MODEL", Value: "M99"},
		{Op: "strMask", Name: "SN", Value: "0000000000000*99999", Wildcard: "*"},
		{Op: "numRange", Name: "V", MinNum: 0, MaxNum: 3, MinIncluded: true},
	}
	b.ResetTimer()
	for b.Loop() {
		found := 0
		if err := s.Things(ctx, "", func(t registry.Thing) bool {
			if t.Public && registry.Matches(t, ops) {
				found++
			}
			return found < 20
		}); err != nil {
			b.Fatal(err)
		}
		if found != 1 {
			b.Fatalf("found %d things, want 1", found)
		}
	}
}
