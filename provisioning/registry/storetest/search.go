package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/xiot/xiot/provisioning/registry"
)

// Alphabets of the random things and searches: few enough values that
// operators match often, with every metacharacter of GLOB and LIKE, case
// differences and multi-byte characters.
var (
	tagNames  = []string{"A", "B", "MODEL", "KEY"}
	strValues = []string{"", "a", "ab", "abc", "b", "B", "a*c", "a%c", "a_c", `a\c`, "[a]", "a?c", "é", "éa", "zz", "a a"}
	numValues = []float64{-2, -0.5, 0, 0.5, 1, 1.5, 3}
	maskRunes = []string{"a", "b", "c", "*", "%", "_", "?", "[", "]", `\`, "é", " "}
	wildcards = []string{"*", "%", "?", "_", "ab", "é"}
	strOps    = []string{"strEq", "strNEq", "strGt", "strGtEq", "strLt", "strLtEq", "strRange", "strNRange", "strMask"}
	numOps    = []string{"numEq", "numNEq", "numGt", "numGtEq", "numLt", "numLtEq", "numRange", "numNRange"}
)

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

func randomThing(r *rand.Rand, i int) registry.Thing {
	th := registry.Thing{Key: registry.Key{JID: fmt.Sprintf("t%03d@x", i)}, Registered: now, Updated: now}
	if r.IntN(4) == 0 {
		th.NodeID = pick(r, []string{"n1", "n2"})
	}
	th.Owner = pick(r, []string{"", "o1@x", "o2@x", "o1@x"})
	th.Public, th.Removed = r.IntN(5) != 0, r.IntN(6) == 0
	for _, name := range tagNames {
		switch r.IntN(3) {
		case 0:
			th.Tags = append(th.Tags, registry.Tag{Name: name, Value: pick(r, strValues)})
		case 1:
			th.Tags = append(th.Tags, registry.Tag{Name: name, Num: pick(r, numValues), Numeric: true})
		}
	}
	return th
}

func randomMask(r *rand.Rand, wildcard string) string {
	var b strings.Builder
	n := r.IntN(6)
	if r.IntN(10) == 0 {
		n = 30 // many wildcards: pushed into SQL as a prefix only
	}
	for range n {
		if r.IntN(3) == 0 {
			b.WriteString(wildcard)
		} else {
			b.WriteString(pick(r, maskRunes))
		}
	}
	return b.String()
}

func randomOp(r *rand.Rand) registry.Operator {
	op := registry.Operator{Name: pick(r, tagNames[:3]), MinIncluded: r.IntN(2) == 0, MaxIncluded: r.IntN(2) == 0}
	if r.IntN(20) == 0 {
		op.Name = "KEY"
	}
	if r.IntN(20) == 0 {
		op.Name = "model" // lower case: Thing.Tag finds MODEL
	}
	if r.IntN(2) == 0 {
		op.Op = pick(r, numOps)
		op.Num, op.MinNum, op.MaxNum = pick(r, numValues), pick(r, numValues), pick(r, numValues)
		return op
	}
	op.Op = pick(r, strOps)
	op.Value, op.Min, op.Max = pick(r, strValues), pick(r, strValues), pick(r, strValues)
	if op.Op == "strMask" {
		op.Wildcard = pick(r, wildcards)
		op.Value = randomMask(r, op.Wildcard)
	}
	return op
}

// RunSearcher runs the part of the suite about registry.Searcher only.
func RunSearcher(t *testing.T, f Factory) { testSearcher(t, f) }

// testSearcher checks, for a store that is a registry.Searcher, that
// random searches, owners' listings and tag lookups give exactly what the
// scans give.
func testSearcher(t *testing.T, f Factory) {
	ctx := context.Background()
	s, _ := f(t)
	defer closeStore(t, s)
	x, ok := s.(registry.Searcher)
	if !ok {
		t.Skip("not a registry.Searcher: the registry scans")
	}
	r := rand.New(rand.NewPCG(8, 347))
	var things []registry.Thing
	for i := range 400 {
		th := randomThing(r, i)
		things = append(things, th)
		put(t, s, th)
	}
	searches, wilds := 600, wildcards
	if raceEnabled {
		searches, wilds = 150, wildcards[:2]
	}
	matched := 0
	for i := range searches {
		ops := make([]registry.Operator, 1+r.IntN(3))
		for j := range ops {
			ops[j] = randomOp(r)
		}
		offset, limit := r.IntN(4), 1+r.IntN(30)
		if i%5 == 0 {
			offset, limit = 0, 1000
		}
		want, wantMore, err := registry.ScanSearch(ctx, s, ops, offset, limit)
		if err != nil {
			t.Fatal(err)
		}
		got, more, err := x.Search(ctx, ops, offset, limit)
		if err != nil {
			t.Fatalf("search %d %+v: %v", i, ops, err)
		}
		if !reflect.DeepEqual(keys(got), keys(want)) || more != wantMore {
			t.Fatalf("search %d %+v offset %d limit %d:\n got %q more %v\nwant %q more %v", i, ops, offset, limit, keys(got), more, keys(want), wantMore)
		}
		matched += len(want)
	}
	if matched < searches {
		t.Fatalf("the random searches found only %d things: the test proves little", matched)
	}
	// Masks made of each value with a wildcard at each place, so that
	// every metacharacter of GLOB and LIKE is in a literal part.
	for i, v := range strValues {
		put(t, s, thing(fmt.Sprintf("m%02d@x", i), "", "o3@x", str("M", v)))
	}
	masked := 0
	for _, v := range strValues {
		for _, w := range wilds {
			rs := []rune(v)
			masks := []string{v, w + v + w}
			for i := range len(rs) + 1 {
				masks = append(masks, string(rs[:i])+w+string(rs[i:]))
			}
			for _, m := range masks {
				ops := []registry.Operator{{Op: "strMask", Name: "M", Value: m, Wildcard: w}}
				want, _, err := registry.ScanSearch(ctx, s, ops, 0, 100)
				if err != nil {
					t.Fatal(err)
				}
				got, _, err := x.Search(ctx, ops, 0, 100)
				if err != nil || !reflect.DeepEqual(keys(got), keys(want)) {
					t.Fatalf("strMask %q wildcard %q: got %q, %v; want %q", m, w, keys(got), err, keys(want))
				}
				masked += len(want)
			}
		}
	}
	if masked < 50*len(wilds) {
		t.Fatalf("the masks matched only %d things", masked)
	}
	for _, owner := range []string{"o1@x", "o2@x", "o3@x", "", "nobody@x"} {
		var got, want []string
		if err := x.ThingsOwnedBy(ctx, owner, func(th registry.Thing) bool { got = append(got, th.Key.String()); return true }); err != nil {
			t.Fatal(err)
		}
		if err := s.Things(ctx, "", func(th registry.Thing) bool {
			if th.Owner == owner {
				want = append(want, th.Key.String())
			}
			return true
		}); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("ThingsOwnedBy(%q) = %q, want %q", owner, got, want)
		}
	}
	for _, tag := range []registry.Tag{{Name: "A", Value: "a"}, {Name: "KEY", Value: "é"}, {Name: "B", Num: 0.5, Numeric: true}, {Name: "MODEL", Value: "none"}} {
		var got, want []string
		if err := x.ThingsTagged(ctx, tag, func(th registry.Thing) bool { got = append(got, th.Key.String()); return true }); err != nil {
			t.Fatal(err)
		}
		for _, th := range sorted(things) {
			if g, ok := th.Tag(tag.Name); ok && g == tag {
				want = append(want, th.Key.String())
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("ThingsTagged(%+v) = %q, want %q", tag, got, want)
		}
	}
	// Searches no registry answers are refused, not run.
	long := strings.Repeat("a", registry.MaxTagValue+1)
	for _, ops := range [][]registry.Operator{
		nil,
		make([]registry.Operator, registry.MaxOperators+1),
		{{Op: "strMask", Name: "A", Value: long, Wildcard: "*"}},
		{{Op: "strMask", Name: "A", Value: "a*", Wildcard: ""}},
		{{Op: "strMask", Name: "A", Value: "a*", Wildcard: strings.Repeat("*", registry.MaxWildcard+1)}},
	} {
		if _, _, err := x.Search(ctx, ops, 0, 10); err == nil {
			t.Errorf("search with %d operators %.60v was accepted", len(ops), ops)
		}
	}
}

func keys(ts []registry.Thing) []string {
	out := []string{}
	for _, th := range ts {
		out = append(out, th.Key.String())
	}
	return out
}

func sorted(ts []registry.Thing) []registry.Thing {
	out := slices.Clone(ts)
	slices.SortFunc(out, func(a, b registry.Thing) int { return strings.Compare(a.Key.String(), b.Key.String()) })
	return out
}
