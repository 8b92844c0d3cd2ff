package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
)

// dialect is what differs between the engines; the queries are written
// once, with ? placeholders and {{…}} type names.
type dialect struct {
	name string
	// types replaces the {{…}} type names of the schema.
	types *strings.Replacer
	// dollar numbers placeholders ($1, $2, …) instead of ?.
	dollar bool
	// plans tells an engine that chooses the operator driving a search
	// itself, from its statistics: searchCond does not probe.
	plans bool
	// lock serialises migrations between instances, inside their
	// transaction; empty when the transaction itself is exclusive.
	lock string
	// mask is the SQL condition of a strMask on column g.str given the
	// pattern built by maskPattern.
	mask string
	// maskMeta are the pattern metacharacters and their escapes.
	maskAny  string
	maskMeta *strings.Replacer
}

var sqliteDialect = &dialect{
	name: "sqlite",
	types: strings.NewReplacer(
		"{{text}}", "TEXT",
		"{{real}}", "REAL",
		"{{int}}", "INTEGER",
		// Rows clustered by their primary key: key-ordered scans and
		// tag look-ups by thing read one B-tree.
		"{{clustered}}", "WITHOUT ROWID",
	),
	// SQLite's BEGIN IMMEDIATE (_txlock) already excludes other writers.
	// GLOB is case sensitive, unlike LIKE; it has no escape character
	// but takes a metacharacter literally inside brackets.
	mask:     "g.str GLOB ?",
	maskAny:  "*",
	maskMeta: strings.NewReplacer("*", "[*]", "?", "[?]", "[", "[[]"),
}

var postgresDialect = &dialect{
	name: "postgres",
	types: strings.NewReplacer(
		"{{text}}", `TEXT COLLATE "C"`,
		"{{real}}", "DOUBLE PRECISION",
		"{{int}}", "BIGINT",
		"{{clustered}}", "",
	),
	dollar:   true,
	plans:    true,
	lock:     "SELECT pg_advisory_xact_lock(7369746) -- xiot registry schema",
	mask:     `g.str LIKE ? ESCAPE '\'`,
	maskAny:  "%",
	maskMeta: strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`),
}

// q rewrites a query for the dialect: placeholders and type names.
func (d *dialect) q(query string) string {
	query = d.types.Replace(query)
	if !d.dollar {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Version is the schema version this package writes. Open migrates older
// databases and refuses newer ones.
const Version = 2

// migrations bring the schema from version i to i+1; append only.
var migrations = []struct {
	what string
	ddl  []string
}{
	{"things, tags and rules", []string{
		`CREATE TABLE things (
			key {{text}} PRIMARY KEY,
			jid {{text}} NOT NULL,
			node_id {{text}} NOT NULL,
			source_id {{text}} NOT NULL,
			cache_type {{text}} NOT NULL,
			owner {{text}} NOT NULL,
			public {{int}} NOT NULL,
			self_owned {{int}} NOT NULL,
			removed {{int}} NOT NULL,
			address {{text}} NOT NULL,
			clear_cache {{int}} NOT NULL,
			registered {{text}} NOT NULL,
			updated {{text}} NOT NULL,
			tags {{text}} NOT NULL) {{clustered}}`,
		`CREATE INDEX things_owner ON things (owner, key)`,
		`CREATE TABLE tags (
			thing {{text}} NOT NULL,
			name {{text}} NOT NULL,
			str {{text}},
			num {{real}},
			PRIMARY KEY (thing, name)) {{clustered}}`,
		`CREATE INDEX tags_str ON tags (name, str)`,
		`CREATE INDEX tags_num ON tags (name, num)`,
		`CREATE TABLE rules (
			thing {{text}} NOT NULL,
			requester {{text}} NOT NULL,
			rule {{text}} NOT NULL,
			PRIMARY KEY (thing, requester)) {{clustered}}`,
	}},
	// Tokens by the SHA-256 of the token, never the token itself; times
	// in Unix seconds so that expiry compares as numbers.
	{"XEP-0324 tokens", []string{
		`CREATE TABLE tokens (
			id {{text}} PRIMARY KEY,
			jid {{text}} NOT NULL,
			fingerprint {{text}} NOT NULL,
			certificate {{text}} NOT NULL,
			created {{int}} NOT NULL,
			expires {{int}} NOT NULL) {{clustered}}`,
		`CREATE INDEX tokens_expires ON tokens (expires)`,
	}},
}

// migrate applies the missing migrations, one transaction each.
func (s *Store) migrate(ctx context.Context) error {
	for {
		done, err := s.migrateStep(ctx)
		if err != nil || done {
			return err
		}
	}
}

// migrateStep creates the version table when missing, applies the next
// migration, if any, and reports whether the schema is current.
func (s *Store) migrateStep(ctx context.Context) (bool, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("migration: %w", err)
	}
	defer tx.Rollback()
	if s.d.lock != "" {
		if _, err := tx.ExecContext(ctx, s.d.lock); err != nil {
			return false, fmt.Errorf("migration lock: %w", err)
		}
	}
	// Created under the lock: concurrent CREATE TABLE IF NOT EXISTS
	// race in PostgreSQL.
	if _, err := tx.ExecContext(ctx, s.d.q(`CREATE TABLE IF NOT EXISTS xiot_schema (
		version {{int}} PRIMARY KEY,
		what {{text}} NOT NULL)`)); err != nil {
		return false, fmt.Errorf("creating the schema version table: %w", err)
	}
	v, err := schemaVersion(ctx, tx)
	if err != nil {
		return false, err
	}
	switch {
	case v > Version:
		return false, fmt.Errorf("schema version %d is newer than this program's %d: run a newer xiot", v, Version)
	case v == Version:
		return true, tx.Commit()
	}
	m := migrations[v]
	for _, ddl := range m.ddl {
		if _, err := tx.ExecContext(ctx, s.d.q(ddl)); err != nil {
			return false, fmt.Errorf("migration to version %d (%s): %w", v+1, m.what, err)
		}
	}
	if _, err := tx.ExecContext(ctx, s.d.q(`INSERT INTO xiot_schema (version, what) VALUES (?, ?)`), v+1, m.what); err != nil {
		return false, fmt.Errorf("migration to version %d: %w", v+1, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migration to version %d: %w", v+1, err)
	}
	return false, nil
}

func schemaVersion(ctx context.Context, tx *sql.Tx) (int, error) {
	var v sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT MAX(version) FROM xiot_schema`).Scan(&v); err != nil {
		return 0, fmt.Errorf("reading the schema version: %w", err)
	}
	return int(v.Int64), nil
}

// SchemaVersion returns the schema version recorded in the database.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT MAX(version) FROM xiot_schema`).Scan(&v); err != nil {
		return 0, fmt.Errorf("sqlstore: %s: reading the schema version: %w", s.name, err)
	}
	return int(v.Int64), nil
}
