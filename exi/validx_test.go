package exi

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/xiot/xiot/exi/schema"
)

// TestValIndex checks the value index against a map under the
// replacement pattern of a bounded value partition, with strings on both
// sides of maxShort that differ only in their middle bytes.
func TestValIndex(t *testing.T) {
	pad := []string{"", "x", "abc", "abcdefgh", "abcdefghijk", "abcdefghijklmnop", "abcdefghijklmnopqrstuvwxyz"}
	for _, capacity := range []int{1, 3, 50, 1000} {
		x := newValIndex()
		var gvals []gval
		ref := map[string]int32{}
		next := 0
		r := rand.New(rand.NewPCG(1, uint64(capacity)))
		for op := 0; op < 5000; op++ {
			s := strconv.Itoa(r.IntN(3 * capacity))
			if p := pad[r.IntN(len(pad))]; p != "" {
				s = p[:len(p)/2] + s + p[len(p)/2:]
			}
			id, ok := x.find(gvals, s)
			if rid, rok := ref[s]; ok != rok || (ok && id != rid) {
				t.Fatalf("cap %d op %d: find(%q) = %d,%v, want %d,%v", capacity, op, s, id, ok, rid, rok)
			}
			if ok {
				continue
			}
			if len(gvals) < capacity {
				gvals = append(gvals, gval{s: s})
				id = int32(len(gvals) - 1)
			} else {
				id = int32(next)
				x.remove(gvals, id)
				delete(ref, gvals[id].s)
				gvals[id] = gval{s: s}
				next = (next + 1) % capacity
			}
			x.insert(gvals, id)
			ref[s] = id
		}
		if x.n != len(ref) {
			t.Fatalf("cap %d: %d entries, want %d", capacity, x.n, len(ref))
		}
	}
}

// TestFastFloat checks fastFloat against schema.ParseFloat.
func TestFastFloat(t *testing.T) {
	for _, s := range []string{"0", "-0", "0.0", "-0.0", "144.13", "40.0", "4000", ".5", "5.", "-.5", "-5.", "007.100",
		"123456789012345678", "1234567890123456789", "1.2.3", "", ".", "-", "-.", "1e5", "+1", " 1", "1 ", "1,0", "NaN", "99.990"} {
		f, ok := fastFloat(s)
		g, err := schema.ParseFloat(s)
		if ok && (err != nil || f != g) {
			t.Errorf("fastFloat(%q) = %v, ParseFloat = %v, %v", s, f, g, err)
		}
		if !ok && err == nil && len(s) < 19 && s != "" && s[0] != '+' && !strings.ContainsAny(s, "eE NI") {
			t.Errorf("fastFloat(%q) refused a plain value", s)
		}
	}
}
