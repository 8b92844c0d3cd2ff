package boltstore

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/xiot/xiot/provisioning/registry"
)

func TestStoreSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", "registry.db")
	s, err := Open(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	a := registry.Thing{Key: registry.Key{JID: "a@x"}, Owner: "o@x", Public: true,
		Tags: []registry.Tag{{Name: "KEY", Value: "k"}, {Name: "V", Num: 1.5, Numeric: true}}, Registered: now, Updated: now}
	b := registry.Thing{Key: registry.Key{JID: "a@x", NodeID: "n1"}, Registered: now, Updated: now}
	c := registry.Thing{Key: registry.Key{JID: "ab@x"}, Registered: now, Updated: now}
	for _, th := range []registry.Thing{a, b, c} {
		if err := s.PutThing(ctx, th); err != nil {
			t.Fatal(err)
		}
	}
	r := registry.Rule{Thing: a.Key, Requester: "bob@x", Read: registry.Allow, Fields: []string{"t"}, Updated: now}
	r2 := registry.Rule{Thing: b.Key, Requester: "bob@x", Friend: registry.Deny, Updated: now}
	for _, rr := range []registry.Rule{r, r2} {
		if err := s.PutRule(ctx, rr); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, err := s.FormatVersion(); err != nil || v != Version {
		t.Fatalf("format version %d, %v", v, err)
	}
	got, err := s.Thing(ctx, a.Key)
	if err != nil || !reflect.DeepEqual(got, a) {
		t.Fatalf("thing a after reopen: %+v, %v", got, err)
	}
	var keys []string
	if err := s.Things(ctx, registry.JIDPrefix("a@x"), func(t registry.Thing) bool {
		keys = append(keys, t.Key.String())
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 {
		t.Fatalf("things of a@x: %q", keys)
	}
	// What callers get is theirs to change.
	got.Tags[0].Value = "changed"
	if again, _ := s.Thing(ctx, a.Key); again.Tags[0].Value != "k" {
		t.Fatalf("changing a returned thing changed the store: %+v", again)
	}
	rules, err := s.Rules(ctx, a.Key)
	if err != nil || len(rules) != 1 || !reflect.DeepEqual(rules[0], r) {
		t.Fatalf("rules of a: %+v, %v", rules, err)
	}
	// Deleting a thing deletes its rules only.
	if err := s.DeleteThing(ctx, a.Key); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Thing(ctx, a.Key); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("deleted thing: %v", err)
	}
	if rules, _ := s.Rules(ctx, a.Key); len(rules) != 0 {
		t.Fatalf("rules of a deleted thing: %+v", rules)
	}
	if rules, _ := s.Rules(ctx, b.Key); len(rules) != 1 {
		t.Fatalf("rules of node n1: %+v", rules)
	}
	if err := s.DeleteRule(ctx, b.Key, "bob@x"); err != nil {
		t.Fatal(err)
	}
	if rules, _ := s.Rules(ctx, b.Key); len(rules) != 0 {
		t.Fatalf("rules after DeleteRule: %+v", rules)
	}
}

func TestOpenRefusesNewerFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.db")
	s, err := Open(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyVersion, []byte("99"))
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := Open(path, 0); err == nil {
		s.Close()
		t.Fatal("opened a file of format version 99")
	}
}
