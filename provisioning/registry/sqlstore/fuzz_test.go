package sqlstore

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/provisioning/registry"
)

func claimed(jid string, tags ...registry.Tag) registry.Thing {
	return registry.Thing{Key: registry.Key{JID: jid}, Owner: "o@x", Public: true, Tags: tags}
}

// sameSearch fails t unless Search and the reference scan agree on ops.
func sameSearch(t testing.TB, s *Store, ops []registry.Operator) {
	t.Helper()
	ctx := context.Background()
	want, wantMore, err := registry.ScanSearch(ctx, s, ops, 0, 50)
	if err != nil {
		t.Fatal(err)
	}
	got, more, err := s.Search(ctx, ops, 0, 50)
	if err != nil {
		t.Fatalf("%+v: %v", ops, err)
	}
	if len(got) != len(want) || more != wantMore {
		t.Fatalf("%.200v: found %d (more %v), the scan %d (more %v)", ops, len(got), more, len(want), wantMore)
	}
	for i := range got {
		if !reflect.DeepEqual(got[i].Key, want[i].Key) {
			t.Fatalf("%.200v: found %v, the scan %v", ops, got[i].Key, want[i].Key)
		}
	}
}

// FuzzSearchMask checks strMask and string comparisons on a fuzzed value
// and pattern against the reference scan (SQLite).
func FuzzSearchMask(f *testing.F) {
	for _, seed := range [][3]string{
		{"abc", "a*c", "*"}, {"a%c", "a%c", "%"}, {"a_c", "a_*", "*"}, {"[a]", "[a]*", "*"}, {`a\c`, `a\*`, "*"},
		{"a?c", "a?c", "?"}, {"ééé", "é", "é"}, {"aaaaaaaaab", "a*a*a*a*a*a*a*a*a*a*b", "*"}, {"xyz", "x[yz]z", "[yz]"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	s, err := Open(context.Background(), filepath.Join(f.TempDir(), "r.db"), Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	ctx := context.Background()
	for i, v := range []string{"", "a", "abc", "a*c", "a%c", "[a]", "é"} {
		if err := s.PutThing(ctx, claimed(fmt.Sprintf("base%d@x", i), registry.Tag{Name: "M", Value: v})); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, value, mask, wildcard string) {
		// Bounded time too: a hostile value or mask must not stall the
		// store or a search.
		timer := time.AfterFunc(5*time.Second, func() {
			panic(fmt.Sprintf("an iteration took more than 5 s: value %q, mask %q, wildcard %q", value, mask, wildcard))
		})
		defer timer.Stop()
		err := s.PutThing(ctx, claimed("fuzz@x", registry.Tag{Name: "M", Value: value}))
		if !utf8.ValidString(value) || strings.ContainsRune(value, 0) {
			if err == nil {
				t.Fatalf("stored the value %q (invalid UTF-8 or NUL, which no XML carries)", value)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if !utf8.ValidString(mask) || !utf8.ValidString(wildcard) {
			return // the wire decoder refuses them
		}
		ops := []registry.Operator{{Op: "strMask", Name: "M", Value: mask, Wildcard: wildcard}}
		if registry.CheckSearch(ops) != nil {
			if _, _, err := s.Search(ctx, ops, 0, 10); err == nil {
				t.Fatalf("a search CheckSearch refuses was run: %+v", ops)
			}
			return
		}
		sameSearch(t, s, ops)
		for _, op := range []string{"strEq", "strNEq", "strGt", "strLtEq"} {
			sameSearch(t, s, []registry.Operator{{Op: op, Name: "M", Value: mask}})
		}
	})
}

// TestHostileSearches: the longest masks with the most wildcards, on the
// longest values, the most operators, take bounded time and agree with
// the scan; larger searches are refused with a clear error.
func TestHostileSearches(t *testing.T) {
	ctx := context.Background()
	stores := map[string]func(t *testing.T) *Store{
		"sqlite": func(t *testing.T) *Store {
			s, err := Open(ctx, filepath.Join(t.TempDir(), "r.db"), Options{})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		"postgres": func(t *testing.T) *Store {
			s, err := Open(ctx, testserver.StartPostgres(t).URL, Options{})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	}
	long := strings.Repeat("a", registry.MaxTagValue-1)
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			defer s.Close()
			var ts []registry.Thing
			for i := range 200 {
				ts = append(ts, claimed(fmt.Sprintf("t%03d@x", i), registry.Tag{Name: "M", Value: long + string(rune('a'+i%3))}))
			}
			if err := s.PutThings(ctx, ts); err != nil {
				t.Fatal(err)
			}
			masks := []string{
				strings.Repeat("a*", registry.MaxTagValue/2),         // 64 wildcards
				strings.Repeat("*a", registry.MaxTagValue/2-1) + "b", // backtracking bait, no match
				strings.Repeat("a", 7) + strings.Repeat("*a", 8) + "*c",
				strings.Repeat("*", registry.MaxTagValue),
				"%" + strings.Repeat("_", 100) + "%",
			}
			start := time.Now()
			for _, m := range masks {
				op := registry.Operator{Op: "strMask", Name: "M", Value: m, Wildcard: "*"}
				sameSearch(t, s, []registry.Operator{op})
				ops := make([]registry.Operator, registry.MaxOperators)
				for i := range ops {
					ops[i] = op
				}
				sameSearch(t, s, ops)
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("hostile searches took %v", d)
			}
			t.Logf("hostile searches: %v", time.Since(start))
			tooMany := make([]registry.Operator, registry.MaxOperators+1)
			for i := range tooMany {
				tooMany[i] = registry.Operator{Op: "strEq", Name: "M", Value: "a"}
			}
			for _, tt := range []struct {
				ops  []registry.Operator
				want string
			}{
				{tooMany, "operators"},
				{[]registry.Operator{{Op: "strMask", Name: "M", Value: long + "**", Wildcard: "*"}}, "longer than"},
				{[]registry.Operator{{Op: "strMask", Name: "M", Value: "a*", Wildcard: "*********"}}, "wildcard"},
			} {
				if _, _, err := s.Search(ctx, tt.ops, 0, 10); err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("%.80v: %v, want %q", tt.ops, err, tt.want)
				}
			}
		})
	}
}
