// Package storetest is the test suite every registry.Store passes:
// things, key order, rules, restarts, concurrent use and, for a
// registry.Searcher, agreement with the reference scan on random
// searches. A store's tests call Run with a way to make empty stores.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xiot/xiot/provisioning/registry"
)

// Factory returns a new empty store and a function that opens it again
// after it was closed, with the same contents.
type Factory func(t *testing.T) (s registry.Store, reopen func() registry.Store)

// Run runs the suite on stores made by f.
func Run(t *testing.T, f Factory) {
	tests := []struct {
		name string
		run  func(*testing.T, Factory)
	}{
		{"things", testThings},
		{"order", testOrder},
		{"rules", testRules},
		{"restart", testRestart},
		{"concurrent", testConcurrent},
		{"searcher", testSearcher},
		{"tokens", testTokens},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, f) })
	}
}

var now = time.Date(2026, 1, 2, 3, 4, 5, 678901234, time.UTC)

func thing(jid string, node string, owner string, tags ...registry.Tag) registry.Thing {
	return registry.Thing{Key: registry.Key{JID: jid, NodeID: node}, Owner: owner, Public: owner != "",
		Tags: tags, Registered: now, Updated: now.Add(time.Second)}
}

func str(name, v string) registry.Tag { return registry.Tag{Name: name, Value: v} }
func num(name string, v float64) registry.Tag {
	return registry.Tag{Name: name, Num: v, Numeric: true}
}

func put(t *testing.T, s registry.Store, ts ...registry.Thing) {
	t.Helper()
	for _, th := range ts {
		if err := s.PutThing(context.Background(), th); err != nil {
			t.Fatal(err)
		}
	}
}

// all returns the store keys of the things under prefix, in the order
// Things gives them.
func all(t *testing.T, s registry.Store, prefix string) []string {
	t.Helper()
	var keys []string
	if err := s.Things(context.Background(), prefix, func(th registry.Thing) bool {
		keys = append(keys, th.Key.String())
		return true
	}); err != nil {
		t.Fatal(err)
	}
	return keys
}

func closeStore(t *testing.T, s registry.Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func testThings(t *testing.T, f Factory) {
	ctx := context.Background()
	s, _ := f(t)
	defer closeStore(t, s)
	a := thing("a@x", "", "o@x", str("KEY", "k"), str("MAN", "m"), num("V", -1.5))
	a.SelfOwned, a.Removed, a.ClearCache, a.Address = true, true, true, "a@x/res"
	put(t, s, a)
	got, err := s.Thing(ctx, a.Key)
	if err != nil || !reflect.DeepEqual(got, a) {
		t.Fatalf("Thing = %+v, %v; want %+v", got, err, a)
	}
	got.Tags[0].Value = "changed"
	if again, _ := s.Thing(ctx, a.Key); again.Tags[0].Value != "k" {
		t.Fatalf("changing a returned thing changed the store: %+v", again)
	}
	// Replacing changes everything but the key.
	b := a
	b.Tags, b.Owner, b.Public, b.SelfOwned, b.Removed, b.ClearCache, b.Address = []registry.Tag{num("V", 2)}, "", false, false, false, false, ""
	put(t, s, b)
	if got, err := s.Thing(ctx, a.Key); err != nil || !reflect.DeepEqual(got, b) {
		t.Fatalf("after replace: %+v, %v; want %+v", got, err, b)
	}
	if keys := all(t, s, ""); len(keys) != 1 {
		t.Fatalf("after replace: %q", keys)
	}
	tests := []struct {
		name string
		key  registry.Key
	}{
		{"absent jid", registry.Key{JID: "b@x"}},
		{"absent node", registry.Key{JID: "a@x", NodeID: "n"}},
		{"other cache type", registry.Key{JID: "a@x", CacheType: "c"}},
	}
	for _, tt := range tests {
		if _, err := s.Thing(ctx, tt.key); !errors.Is(err, registry.ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", tt.name, err)
		}
	}
	if err := s.DeleteThing(ctx, a.Key); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Thing(ctx, a.Key); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("deleted thing: %v", err)
	}
	if err := s.DeleteThing(ctx, a.Key); err != nil {
		t.Fatalf("deleting an absent thing: %v", err)
	}
}

func testOrder(t *testing.T, f Factory) {
	s, _ := f(t)
	defer closeStore(t, s)
	jids := []string{"a@x", "ab@x", "a@x.y", "b@x", "é@x", "z@x", "A@x", "a@x/", "日本@x"}
	var want []string
	for i, j := range jids {
		for _, n := range []string{"", "n1", "n2", "ü"} {
			th := thing(j, n, "", num("I", float64(i)))
			put(t, s, th)
			want = append(want, th.Key.String())
		}
	}
	// Enough things for several pages of a paging store.
	for i := range 1100 {
		th := thing(fmt.Sprintf("bulk%05d@x", 1099-i), "", "")
		put(t, s, th)
		want = append(want, th.Key.String())
	}
	slices.Sort(want) // byte order
	if got := all(t, s, ""); !slices.Equal(got, want) {
		t.Fatalf("Things(\"\"): %d keys, want %d in byte order; first %q", len(got), len(want), got[:min(len(got), 8)])
	}
	for _, prefix := range []string{registry.JIDPrefix("a@x"), "a", "a@x", "é", "bulk0", "bulk01099", "\u65e5", "none", registry.JIDPrefix("ab@x") + "n"} {
		var w []string
		for _, k := range want {
			if strings.HasPrefix(k, prefix) {
				w = append(w, k)
			}
		}
		if got := all(t, s, prefix); !slices.Equal(got, w) {
			t.Errorf("Things(%q) = %q, want %q", prefix, got, w)
		}
	}
	n := 0
	if err := s.Things(context.Background(), "", func(registry.Thing) bool { n++; return n < 600 }); err != nil || n != 600 {
		t.Errorf("stopping at 600: %d, %v", n, err)
	}
}

func testRules(t *testing.T, f Factory) {
	ctx := context.Background()
	s, _ := f(t)
	defer closeStore(t, s)
	a, b := thing("a@x", "", "o@x"), thing("a@x", "n1", "o@x")
	put(t, s, a, b)
	rules := []registry.Rule{
		{Thing: a.Key, Requester: "zed@x", Read: registry.Allow, Fields: []string{"t", "h"}, Updated: now},
		{Thing: a.Key, Requester: "bob@x", Friend: registry.Deny, Updated: now},
		{Thing: a.Key, Requester: "x.org", Control: registry.Allow, Params: []string{"relay"}, Updated: now},
		{Thing: b.Key, Requester: "bob@x", Friend: registry.Allow, Updated: now},
	}
	for _, r := range rules {
		if err := s.PutRule(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutRule(ctx, registry.Rule{Thing: a.Key}); err == nil {
		t.Error("a rule without requester was accepted")
	}
	replaced := rules[1]
	replaced.Friend, replaced.Read = registry.Allow, registry.Deny
	if err := s.PutRule(ctx, replaced); err != nil {
		t.Fatal(err)
	}
	got, err := s.Rules(ctx, a.Key)
	want := []registry.Rule{replaced, rules[2], rules[0]} // by requester
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Rules(a) = %+v, %v; want %+v", got, err, want)
	}
	if err := s.DeleteRule(ctx, a.Key, "x.org"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRule(ctx, a.Key, "absent@x"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Rules(ctx, a.Key); len(got) != 2 {
		t.Fatalf("after DeleteRule: %+v", got)
	}
	if err := s.DeleteRules(ctx, b.Key); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Rules(ctx, b.Key); len(got) != 0 {
		t.Fatalf("after DeleteRules(b): %+v", got)
	}
	if got, _ := s.Rules(ctx, a.Key); len(got) != 2 {
		t.Fatalf("DeleteRules(b) touched a: %+v", got)
	}
	if err := s.PutRule(ctx, rules[3]); err != nil {
		t.Fatal(err)
	}
	// Deleting a thing deletes its rules only.
	if err := s.DeleteThing(ctx, a.Key); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Rules(ctx, a.Key); len(got) != 0 {
		t.Fatalf("rules of a deleted thing: %+v", got)
	}
	if got, _ := s.Rules(ctx, b.Key); len(got) != 1 {
		t.Fatalf("rules of b after deleting a: %+v", got)
	}
}

func testRestart(t *testing.T, f Factory) {
	ctx := context.Background()
	s, reopen := f(t)
	owned := thing("dev@x", "", "owner@x", str("KEY", "secret"), str("MODEL", "m1"), num("V", 1.25))
	unclaimed := thing("new@x", "", "", str("KEY", "other"))
	node := thing("conc@x", "node/7", "owner@x", str("TYPE", "relay"))
	node.Key.SourceID, node.Key.CacheType = "MeteringTopology", "c"
	put(t, s, owned, unclaimed, node)
	rule := registry.Rule{Thing: owned.Key, Requester: "bob@x", Read: registry.Allow, Fields: []string{"temperature"}, Updated: now}
	if err := s.PutRule(ctx, rule); err != nil {
		t.Fatal(err)
	}
	closeStore(t, s)
	for round := range 2 {
		s = reopen()
		for _, want := range []registry.Thing{owned, unclaimed, node} {
			if got, err := s.Thing(ctx, want.Key); err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("round %d: %s after reopen: %+v, %v; want %+v", round, want.JID, got, err, want)
			}
		}
		if got, err := s.Rules(ctx, owned.Key); err != nil || !reflect.DeepEqual(got, []registry.Rule{rule}) {
			t.Fatalf("round %d: rules after reopen: %+v, %v", round, got, err)
		}
		if keys := all(t, s, ""); len(keys) != 3 {
			t.Fatalf("round %d: things after reopen: %q", round, keys)
		}
		closeStore(t, s)
	}
}

func testConcurrent(t *testing.T, f Factory) {
	ctx := context.Background()
	s, _ := f(t)
	defer closeStore(t, s)
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*each*3)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				th := thing(fmt.Sprintf("w%d-%03d@x", w, i), "", "o@x", str("W", fmt.Sprint(w)))
				if err := s.PutThing(ctx, th); err != nil {
					errs <- err
					return
				}
				if err := s.PutRule(ctx, registry.Rule{Thing: th.Key, Requester: "r@x", Updated: now}); err != nil {
					errs <- err
					return
				}
				if _, err := s.Thing(ctx, th.Key); err != nil {
					errs <- err
					return
				}
				if err := s.Things(ctx, registry.JIDPrefix(th.JID), func(registry.Thing) bool { return true }); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if keys := all(t, s, ""); len(keys) != workers*each {
		t.Fatalf("%d things after concurrent puts, want %d", len(keys), workers*each)
	}
	for w := range workers {
		k := registry.Key{JID: fmt.Sprintf("w%d-%03d@x", w, each-1)}
		if rules, err := s.Rules(ctx, k); err != nil || len(rules) != 1 {
			t.Fatalf("rules of %s: %+v, %v", k.JID, rules, err)
		}
	}
}
