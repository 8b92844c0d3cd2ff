package provisioning

import (
	"testing"
	"time"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time      { return c.t }
func (c *fakeClock) add(d time.Duration) { c.t = c.t.Add(d) }
func newFakeClock() *fakeClock           { return &fakeClock{t: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)} }

func TestCacheLRU(t *testing.T) {
	clk := newFakeClock()
	c := newCache(2, 0, clk.now)
	g := c.generation()
	c.put("a", "x@y", 1, g)
	c.put("b", "x@y", 2, g)
	if _, ok := c.get("a"); !ok { // a is now the most recently used
		t.Fatal("a missing")
	}
	c.put("c", "z@y", 3, g) // evicts b, the least recently used
	if _, ok := c.get("b"); ok {
		t.Fatal("b should have been evicted")
	}
	for k, want := range map[string]int{"a": 1, "c": 3} {
		if v, ok := c.get(k); !ok || v.(int) != want {
			t.Fatalf("get(%s) = %v, %v", k, v, ok)
		}
	}
	if c.len() != 2 {
		t.Fatalf("len = %d", c.len())
	}
	c.put("a", "x@y", 10, g) // update in place
	if v, _ := c.get("a"); v.(int) != 10 {
		t.Fatalf("updated a = %v", v)
	}
}

func TestCacheIdleExpiry(t *testing.T) {
	clk := newFakeClock()
	c := newCache(10, time.Hour, clk.now)
	g := c.generation()
	c.put("a", "x@y", 1, g)
	c.put("b", "x@y", 2, g)
	clk.add(40 * time.Minute)
	if _, ok := c.get("a"); !ok { // use keeps a alive
		t.Fatal("a expired early")
	}
	clk.add(40 * time.Minute)
	if _, ok := c.get("b"); ok {
		t.Fatal("b unused for 80 min should have expired")
	}
	if _, ok := c.get("a"); !ok {
		t.Fatal("a used 40 min ago should hold")
	}
	clk.add(2 * time.Hour)
	c.put("c", "x@y", 3, g) // a put sweeps what expired
	if c.len() != 1 {
		t.Fatalf("len = %d after sweep, want 1", c.len())
	}
}

func TestCacheGenerations(t *testing.T) {
	c := newCache(10, 0, time.Now)
	g := c.generation()
	c.put("a", "x@y", 1, g)
	c.clear()
	if _, ok := c.get("a"); ok || c.len() != 0 {
		t.Fatal("clear kept a")
	}
	c.put("b", "x@y", 2, g) // asked before the clear: not stored
	if _, ok := c.get("b"); ok {
		t.Fatal("an answer from before clearCache was stored")
	}
	g = c.generation()
	c.put("b", "x@y", 2, g)
	c.put("c", "z@y", 3, g)
	c.forget("x@y")
	if _, ok := c.get("b"); ok {
		t.Fatal("forget kept b")
	}
	if _, ok := c.get("c"); !ok {
		t.Fatal("forget dropped another JID's decision")
	}
}

func TestCacheDisabled(t *testing.T) {
	c := newCache(-1, 0, time.Now)
	c.put("a", "x@y", 1, c.generation())
	if _, ok := c.get("a"); ok {
		t.Fatal("a disabled cache stored")
	}
}

func TestKeys(t *testing.T) {
	a := readKey(CanRead{JID: "a@b", Nodes: []NodeRef{{NodeID: "n1"}, {NodeID: "n2"}}, Fields: []string{"f1", "f2"}})
	b := readKey(CanRead{JID: "a@b", Nodes: []NodeRef{{NodeID: "n2"}, {NodeID: "n1"}, {NodeID: "n2"}}, Fields: []string{"f2", "f1"}})
	if a != b {
		t.Fatal("order or repetition of nodes and fields changed the key")
	}
	distinct := []string{
		a,
		readKey(CanRead{JID: "a@b"}),
		readKey(CanRead{JID: "c@b"}),
		readKey(CanRead{JID: "a@b", Fields: []string{"f1f2"}}),
		readKey(CanRead{JID: "a@b", Fields: []string{"f1", "f2"}}),
		readKey(CanRead{JID: "a@b", Tokens: Tokens{User: "u"}}),
		readKey(CanRead{JID: "a@b", Tokens: Tokens{Service: "u"}}),
		readKey(CanRead{JID: "a@b", Types: 1}),
		controlKey(CanControl{JID: "a@b"}),
		controlKey(CanControl{JID: "a@b", Params: []string{"f1", "f2"}}),
		friendKey(IsFriend{JID: "a@b"}),
	}
	seen := map[string]int{}
	for i, k := range distinct {
		if j, ok := seen[k]; ok {
			t.Fatalf("questions %d and %d share a key %q", j, i, k)
		}
		seen[k] = i
	}
}
