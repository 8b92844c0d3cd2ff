package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/xiot/xiot/provisioning/registry"
)

// Store is a registry.Store and registry.Searcher in SQLite or
// PostgreSQL. Its methods are safe for concurrent use, also by several
// processes on one database.
type Store struct {
	db   *sql.DB
	d    *dialect
	name string // the file, or the URL without password
	// probeCap bounds the tag rows counted per search operator (tests
	// lower it to take the other query plan).
	probeCap int
}

var (
	_ registry.Store    = (*Store)(nil)
	_ registry.Searcher = (*Store)(nil)
)

// pageSize is how many rows one query of an iteration reads: the rows are
// read and released before the caller sees them, so that no connection or
// read transaction is held while it works.
const pageSize = 512

// Engine returns "sqlite" or "postgres".
func (s *Store) Engine() string { return s.d.name }

// String returns the file, or the URL without its password.
func (s *Store) String() string { return s.name }

// Analyze updates the statistics the database plans queries with: call
// it after a bulk import (PostgreSQL's autovacuum also does, later).
func (s *Store) Analyze(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `ANALYZE`); err != nil {
		return fmt.Errorf("sqlstore: %s: analyze: %w", s.name, err)
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("sqlstore: closing %s: %w", s.name, err)
	}
	return nil
}

const thingCols = `t.key, t.jid, t.node_id, t.source_id, t.cache_type, t.owner, t.public, t.self_owned, t.removed,
	t.address, t.clear_cache, t.registered, t.updated, t.tags`

// scanThing reads a row of thingCols.
func scanThing(r interface{ Scan(...any) error }) (registry.Thing, string, error) {
	var (
		t                               registry.Thing
		key, reg, upd, tags             string
		public, self, removed, clearing int64
	)
	if err := r.Scan(&key, &t.JID, &t.NodeID, &t.SourceID, &t.CacheType, &t.Owner, &public, &self, &removed,
		&t.Address, &clearing, &reg, &upd, &tags); err != nil {
		return t, "", err
	}
	t.Public, t.SelfOwned, t.Removed, t.ClearCache = public != 0, self != 0, removed != 0, clearing != 0
	if err := t.Registered.UnmarshalText([]byte(reg)); err != nil {
		return t, key, fmt.Errorf("thing %q: registered: %w", key, err)
	}
	if err := t.Updated.UnmarshalText([]byte(upd)); err != nil {
		return t, key, fmt.Errorf("thing %q: updated: %w", key, err)
	}
	if err := json.Unmarshal([]byte(tags), &t.Tags); err != nil {
		return t, key, fmt.Errorf("thing %q: tags: %w", key, err)
	}
	return t, key, nil
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func timeText(t time.Time) (string, error) {
	b, err := t.MarshalText()
	return string(b), err
}

// checkThing refuses what the schema cannot hold exactly.
func checkThing(t registry.Thing) error {
	// Neither invalid UTF-8 nor NUL can arrive in XML, and SQL engines
	// compare strings only up to a NUL: refused, so that searches in SQL
	// and the reference scan agree on everything stored.
	for _, s := range []string{t.JID, t.NodeID, t.SourceID, t.CacheType, t.Owner, t.Address} {
		if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
			return errors.New("invalid UTF-8 or a NUL character")
		}
	}
	for _, g := range t.Tags {
		if !utf8.ValidString(g.Name) || !utf8.ValidString(g.Value) || strings.ContainsRune(g.Name+g.Value, 0) {
			return fmt.Errorf("tag %q: invalid UTF-8 or a NUL character", g.Name)
		}
		if math.IsNaN(g.Num) || math.IsInf(g.Num, 0) {
			return fmt.Errorf("tag %s: %v is not a finite number", g.Name, g.Num)
		}
	}
	return nil
}

// Bounds of one batch of putThings: things (14 parameters each) and tags
// (4 each), within SQLite's 32766 and PostgreSQL's 65535 parameters.
const (
	batch     = 100
	batchTags = 5000
)

// putThings writes ts and their tags in tx, three statements per batch
// of things.
func (s *Store) putThings(ctx context.Context, tx *sql.Tx, ts []registry.Thing) error {
	for len(ts) > 0 {
		n, tags := 1, len(ts[0].Tags)
		for n < len(ts) && n < batch && tags+len(ts[n].Tags) <= batchTags {
			tags += len(ts[n].Tags)
			n++
		}
		if err := s.putBatch(ctx, tx, ts[:n]); err != nil {
			return err
		}
		ts = ts[n:]
	}
	return nil
}

// putBatch writes at most batch things in three statements: the things
// (upserted), their old tags deleted, their new tags inserted.
func (s *Store) putBatch(ctx context.Context, tx *sql.Tx, ts []registry.Thing) error {
	// One statement cannot upsert a key twice (PostgreSQL): the last
	// write of a key wins, as it would one statement after another.
	last := make(map[string]int, len(ts))
	for i, t := range ts {
		last[t.Key.String()] = i
	}
	var (
		rows, keys, tagRows []string
		args, keyArgs       []any
		tagArgs             []any
	)
	for i, t := range ts {
		key := t.Key.String()
		if last[key] != i {
			continue
		}
		if err := checkThing(t); err != nil {
			return fmt.Errorf("thing %s: %w", t.JID, err)
		}
		tags, err := json.Marshal(t.Tags)
		if err != nil {
			return fmt.Errorf("thing %s: %w", t.JID, err)
		}
		reg, err := timeText(t.Registered)
		if err != nil {
			return fmt.Errorf("thing %s: %w", t.JID, err)
		}
		upd, err := timeText(t.Updated)
		if err != nil {
			return fmt.Errorf("thing %s: %w", t.JID, err)
		}
		rows = append(rows, "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
		args = append(args, key, t.JID, t.NodeID, t.SourceID, t.CacheType, t.Owner, b2i(t.Public), b2i(t.SelfOwned),
			b2i(t.Removed), t.Address, b2i(t.ClearCache), reg, upd, string(tags))
		keys = append(keys, "?")
		keyArgs = append(keyArgs, key)
		seen := make(map[string]bool, len(t.Tags))
		for _, g := range t.Tags {
			// Thing.Tag finds the first tag of a name: so do searches.
			if seen[g.Name] {
				continue
			}
			seen[g.Name] = true
			var str, num any
			if g.Numeric {
				num = g.Num
			} else {
				str = g.Value
			}
			tagRows = append(tagRows, "(?, ?, ?, ?)")
			tagArgs = append(tagArgs, key, g.Name, str, num)
		}
	}
	if _, err := tx.ExecContext(ctx, s.d.q(`INSERT INTO things (key, jid, node_id, source_id, cache_type, owner,
		public, self_owned, removed, address, clear_cache, registered, updated, tags)
		VALUES `+strings.Join(rows, ", ")+`
		ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, public = excluded.public,
		self_owned = excluded.self_owned, removed = excluded.removed, address = excluded.address,
		clear_cache = excluded.clear_cache, registered = excluded.registered, updated = excluded.updated,
		tags = excluded.tags`), args...); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, s.d.q(`DELETE FROM tags WHERE thing IN (`+strings.Join(keys, ", ")+`)`), keyArgs...); err != nil {
		return err
	}
	if len(tagRows) == 0 {
		return nil
	}
	_, err := tx.ExecContext(ctx, s.d.q(`INSERT INTO tags (thing, name, str, num) VALUES `+strings.Join(tagRows, ", ")), tagArgs...)
	return err
}

// inTx runs f in a transaction and commits it.
func (s *Store) inTx(ctx context.Context, f func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// Thing implements registry.Store.
func (s *Store) Thing(ctx context.Context, k registry.Key) (registry.Thing, error) {
	row := s.db.QueryRowContext(ctx, s.d.q(`SELECT `+thingCols+` FROM things t WHERE t.key = ?`), k.String())
	t, _, err := scanThing(row)
	if errors.Is(err, sql.ErrNoRows) {
		return registry.Thing{}, fmt.Errorf("sqlstore: thing %s: %w", k.JID, registry.ErrNotFound)
	}
	if err != nil {
		return registry.Thing{}, fmt.Errorf("sqlstore: thing %s: %w", k.JID, err)
	}
	return t, nil
}

// PutThing implements registry.Store.
func (s *Store) PutThing(ctx context.Context, t registry.Thing) error {
	if err := s.inTx(ctx, func(tx *sql.Tx) error { return s.putThings(ctx, tx, []registry.Thing{t}) }); err != nil {
		return fmt.Errorf("sqlstore: saving thing %s: %w", t.JID, err)
	}
	return nil
}

// PutThings creates or replaces many things in one transaction (imports,
// migrations, benchmarks).
func (s *Store) PutThings(ctx context.Context, ts []registry.Thing) error {
	if err := s.inTx(ctx, func(tx *sql.Tx) error { return s.putThings(ctx, tx, ts) }); err != nil {
		return fmt.Errorf("sqlstore: saving %d things: %w", len(ts), err)
	}
	return nil
}

// DeleteThing implements registry.Store.
func (s *Store) DeleteThing(ctx context.Context, k registry.Key) error {
	key := k.String()
	if err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{`DELETE FROM things WHERE key = ?`, `DELETE FROM tags WHERE thing = ?`, `DELETE FROM rules WHERE thing = ?`} {
			if _, err := tx.ExecContext(ctx, s.d.q(q), key); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("sqlstore: deleting thing %s: %w", k.JID, err)
	}
	return nil
}

// pages calls f for every thing the query returns, in key order, until f
// returns false. The query selects thingCols from things t and ends with
// a condition; pages adds the last key read, the order and the page size
// (first rows, then pageSize).
func (s *Store) pages(ctx context.Context, first int, cond string, args []any, f func(registry.Thing) bool) error {
	q := s.d.q(`SELECT ` + thingCols + ` FROM things t ` + cond + ` AND t.key > ? ORDER BY t.key LIMIT ?`)
	last, n := "", first
	for {
		page, err := s.page(ctx, q, append(args[:len(args):len(args)], last, n))
		if err != nil {
			return err
		}
		for _, t := range page {
			if !f(t) {
				return nil
			}
		}
		if len(page) < n {
			return nil
		}
		last, n = page[len(page)-1].Key.String(), pageSize
	}
}

// page reads the things of one query.
func (s *Store) page(ctx context.Context, q string, args []any) ([]registry.Thing, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []registry.Thing
	for rows.Next() {
		t, _, err := scanThing(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// Things implements registry.Store. The things are read a page at a
// time: a thing changed during the iteration is seen as it is when its
// page is read.
func (s *Store) Things(ctx context.Context, prefix string, f func(registry.Thing) bool) error {
	cond, args := `WHERE t.key >= ?`, []any{prefix}
	if hi, ok := prefixEnd(prefix); ok {
		cond, args = cond+` AND t.key < ?`, append(args, hi)
	}
	if err := s.pages(ctx, pageSize, cond, args, f); err != nil {
		return fmt.Errorf("sqlstore: listing things: %w", err)
	}
	return nil
}

// prefixEnd returns the least string greater than every string that
// starts with prefix, in byte order (which is code point order in
// UTF-8), or false when there is none (an empty prefix). It increments
// the last code point, skipping the surrogates; a last code point that
// cannot grow is dropped and the previous one incremented.
func prefixEnd(prefix string) (string, bool) {
	rs := []rune(prefix)
	for i := len(rs) - 1; i >= 0; i-- {
		r := rs[i] + 1
		if r == 0xD800 {
			r = 0xE000
		}
		if r <= utf8.MaxRune {
			rs[i] = r
			return string(rs[:i+1]), true
		}
	}
	return "", false
}

// Rules implements registry.Store.
func (s *Store) Rules(ctx context.Context, k registry.Key) ([]registry.Rule, error) {
	rows, err := s.db.QueryContext(ctx, s.d.q(`SELECT rule FROM rules WHERE thing = ? ORDER BY requester`), k.String())
	if err != nil {
		return nil, fmt.Errorf("sqlstore: rules of %s: %w", k.JID, err)
	}
	defer rows.Close()
	var out []registry.Rule
	for rows.Next() {
		var b string
		if err := rows.Scan(&b); err != nil {
			return nil, fmt.Errorf("sqlstore: rules of %s: %w", k.JID, err)
		}
		var r registry.Rule
		if err := json.Unmarshal([]byte(b), &r); err != nil {
			return nil, fmt.Errorf("sqlstore: rule of %s: %w", k.JID, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: rules of %s: %w", k.JID, err)
	}
	return out, nil
}

// PutRule implements registry.Store.
func (s *Store) PutRule(ctx context.Context, r registry.Rule) error {
	if r.Requester == "" {
		return errors.New("sqlstore: rule without requester")
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("sqlstore: encoding rule: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, s.d.q(`INSERT INTO rules (thing, requester, rule) VALUES (?, ?, ?)
		ON CONFLICT (thing, requester) DO UPDATE SET rule = excluded.rule`), r.Thing.String(), r.Requester, string(b)); err != nil {
		return fmt.Errorf("sqlstore: saving rule of %s for %s: %w", r.Thing.JID, r.Requester, err)
	}
	return nil
}

// DeleteRule implements registry.Store.
func (s *Store) DeleteRule(ctx context.Context, k registry.Key, requester string) error {
	if _, err := s.db.ExecContext(ctx, s.d.q(`DELETE FROM rules WHERE thing = ? AND requester = ?`), k.String(), requester); err != nil {
		return fmt.Errorf("sqlstore: deleting rule of %s for %s: %w", k.JID, requester, err)
	}
	return nil
}

// DeleteRules implements registry.Store.
func (s *Store) DeleteRules(ctx context.Context, k registry.Key) error {
	if _, err := s.db.ExecContext(ctx, s.d.q(`DELETE FROM rules WHERE thing = ?`), k.String()); err != nil {
		return fmt.Errorf("sqlstore: deleting rules of %s: %w", k.JID, err)
	}
	return nil
}
