package xmpp

import "testing"

func TestIDs(t *testing.T) {
	a, b := newIDGen(), newIDGen()
	seen := map[string]bool{}
	for range 100000 {
		id := a.next()
		if seen[id] {
			t.Fatalf("ID %q given twice", id)
		}
		seen[id] = true
		if len(id) < 5 || len(id) > 8 {
			t.Fatalf("ID %q: %d characters", id, len(id))
		}
	}
	if a.prefix == b.prefix {
		t.Logf("two sessions drew the same prefix %q (1 in 16 million)", a.prefix)
	}
	if got := len(a.prefix); got != 4 {
		t.Errorf("prefix %q", a.prefix)
	}
}
