// Package boltstore is the registry.Store of older versions of xiot:
// one bbolt file (go.etcd.io/bbolt, pure Go, already linked for sensor
// history), with things and rules as JSON records and the format version
// recorded for migrations. "xiot registry" now keeps its things in
// sqlstore (SQLite by default) and uses this package only to convert
// such files (--migrate-from-bolt); it still passes storetest.
//
// # Memory
//
// The things are also kept decoded in memory, loaded at Open: searches
// and claims scan them without decoding (100,000 things: about 50 MB,
// and a full scan in milliseconds instead of 0.3 s). Rules are read from
// the file.
package boltstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/xiot/xiot/provisioning/registry"
)

// Version is the format version this package writes. Open migrates older
// files and refuses newer ones.
const Version = 1

var (
	bucketMeta   = []byte("meta")
	bucketThings = []byte("things")
	bucketRules  = []byte("rules")
	keyVersion   = []byte("version")
)

// Store is a registry.Store in one bbolt file. Its methods are safe for
// concurrent use.
type Store struct {
	db *bolt.DB

	mu     sync.RWMutex
	things map[string]registry.Thing // by store key; Tags never mutated
	keys   []string                  // the keys of things, sorted
}

var _ registry.Store = (*Store)(nil)

// Open opens or creates the store at path (mode 0600, its directory 0700
// when created). It waits up to timeout (default 5 s) for another
// process's lock on the file.
func Open(path string, timeout time.Duration) (*Store, error) {
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("boltstore: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout})
	if err != nil {
		return nil, fmt.Errorf("boltstore: opening %s: %w", path, err)
	}
	if err := db.Update(migrate); err != nil {
		db.Close()
		return nil, fmt.Errorf("boltstore: %s: %w", path, err)
	}
	s := &Store{db: db, things: map[string]registry.Thing{}}
	if err := db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketThings).ForEach(func(k, v []byte) error {
			var t registry.Thing
			if err := json.Unmarshal(v, &t); err != nil {
				return fmt.Errorf("record %q: %w", k, err)
			}
			s.things[string(k)] = t
			s.keys = append(s.keys, string(k)) // ForEach goes in key order
			return nil
		})
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("boltstore: loading %s: %w", path, err)
	}
	return s, nil
}

// remember puts t in memory; the caller holds s.mu.
func (s *Store) remember(t registry.Thing) {
	k := t.Key.String()
	if _, ok := s.things[k]; !ok {
		i, _ := slices.BinarySearch(s.keys, k)
		s.keys = slices.Insert(s.keys, i, k)
	}
	t.Tags = slices.Clone(t.Tags)
	s.things[k] = t
}

// forget removes the thing with store key k from memory; the caller holds
// s.mu.
func (s *Store) forget(k string) {
	if _, ok := s.things[k]; !ok {
		return
	}
	delete(s.things, k)
	if i, ok := slices.BinarySearch(s.keys, k); ok {
		s.keys = slices.Delete(s.keys, i, i+1)
	}
}

// migrate creates the buckets and brings the format to Version.
func migrate(tx *bolt.Tx) error {
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return err
	}
	v := 0
	if b := meta.Get(keyVersion); b != nil {
		if v, err = strconv.Atoi(string(b)); err != nil {
			return fmt.Errorf("bad format version %q", b)
		}
	}
	if v > Version {
		return fmt.Errorf("format version %d is newer than this program's %d", v, Version)
	}
	// Version 0 → 1: the buckets. Later migrations go here, one step each.
	for _, b := range [][]byte{bucketThings, bucketRules} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	return meta.Put(keyVersion, []byte(strconv.Itoa(Version)))
}

// FormatVersion returns the format version recorded in the file.
func (s *Store) FormatVersion() (int, error) {
	var v int
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		v, err = strconv.Atoi(string(tx.Bucket(bucketMeta).Get(keyVersion)))
		return err
	})
	return v, err
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// Thing implements registry.Store.
func (s *Store) Thing(_ context.Context, k registry.Key) (registry.Thing, error) {
	s.mu.RLock()
	t, ok := s.things[k.String()]
	s.mu.RUnlock()
	if !ok {
		return registry.Thing{}, fmt.Errorf("boltstore: thing %s: %w", k.JID, registry.ErrNotFound)
	}
	t.Tags = slices.Clone(t.Tags)
	return t, nil
}

// PutThing implements registry.Store.
func (s *Store) PutThing(_ context.Context, t registry.Thing) error {
	b, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("boltstore: encoding thing %s: %w", t.JID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketThings).Put([]byte(t.Key.String()), b)
	}); err != nil {
		return fmt.Errorf("boltstore: saving thing %s: %w", t.JID, err)
	}
	s.remember(t)
	return nil
}

// DeleteThing implements registry.Store.
func (s *Store) DeleteThing(_ context.Context, k registry.Key) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketThings).Delete([]byte(k.String())); err != nil {
			return err
		}
		return deleteRules(tx, k)
	}); err != nil {
		return fmt.Errorf("boltstore: deleting thing %s: %w", k.JID, err)
	}
	s.forget(k.String())
	return nil
}

// Things implements registry.Store, from memory. f must not change the
// thing's Tags, nor call s.
func (s *Store) Things(ctx context.Context, prefix string, f func(registry.Thing) bool) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	i, _ := slices.BinarySearch(s.keys, prefix)
	for n, k := range s.keys[i:] {
		if !strings.HasPrefix(k, prefix) {
			break
		}
		if n%1024 == 0 && ctx.Err() != nil {
			return fmt.Errorf("boltstore: listing things: %w", ctx.Err())
		}
		if !f(s.things[k]) {
			break
		}
	}
	return nil
}

// rulePrefix is the store key prefix of the rules of thing k.
func rulePrefix(k registry.Key) []byte {
	return []byte(registry.Rule{Thing: k}.StoreKey())
}

// Rules implements registry.Store.
func (s *Store) Rules(_ context.Context, k registry.Key) ([]registry.Rule, error) {
	var out []registry.Rule
	p := rulePrefix(k)
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketRules).Cursor()
		for key, v := c.Seek(p); key != nil && bytes.HasPrefix(key, p); key, v = c.Next() {
			var r registry.Rule
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("record %q: %w", key, err)
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: rules of %s: %w", k.JID, err)
	}
	return out, nil
}

// PutRule implements registry.Store.
func (s *Store) PutRule(_ context.Context, r registry.Rule) error {
	if r.Requester == "" {
		return errors.New("boltstore: rule without requester")
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("boltstore: encoding rule: %w", err)
	}
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRules).Put([]byte(r.StoreKey()), b)
	}); err != nil {
		return fmt.Errorf("boltstore: saving rule of %s for %s: %w", r.Thing.JID, r.Requester, err)
	}
	return nil
}

// DeleteRule implements registry.Store.
func (s *Store) DeleteRule(_ context.Context, k registry.Key, requester string) error {
	key := registry.Rule{Thing: k, Requester: requester}.StoreKey()
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRules).Delete([]byte(key))
	}); err != nil {
		return fmt.Errorf("boltstore: deleting rule of %s for %s: %w", k.JID, requester, err)
	}
	return nil
}

// DeleteRules implements registry.Store.
func (s *Store) DeleteRules(_ context.Context, k registry.Key) error {
	if err := s.db.Update(func(tx *bolt.Tx) error { return deleteRules(tx, k) }); err != nil {
		return fmt.Errorf("boltstore: deleting rules of %s: %w", k.JID, err)
	}
	return nil
}

func deleteRules(tx *bolt.Tx, k registry.Key) error {
	p := rulePrefix(k)
	c := tx.Bucket(bucketRules).Cursor()
	for key, _ := c.Seek(p); key != nil && bytes.HasPrefix(key, p); key, _ = c.Seek(p) {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// PutThings creates or replaces many things in one transaction (imports,
// benchmarks).
func (s *Store) PutThings(_ context.Context, ts []registry.Thing) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketThings)
		for _, t := range ts {
			v, err := json.Marshal(t)
			if err != nil {
				return err
			}
			if err := b.Put([]byte(t.Key.String()), v); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("boltstore: saving %d things: %w", len(ts), err)
	}
	for _, t := range ts {
		s.remember(t)
	}
	return nil
}
