// Package sqlstore is the registry.Store of "xiot registry" in SQL: an
// embedded SQLite file (modernc.org/sqlite, pure Go, no cgo) by default,
// or a PostgreSQL database (github.com/jackc/pgx/v5) when given a
// postgres:// URL, for fleets that run several registry instances on one
// database.
//
// # Schema
//
// One schema serves both engines: things (one row per thing, its tags
// kept whole as JSON so that a thing reads back exactly as written),
// tags (the first tag of each name of a thing, string or number, indexed
// by name and value for searches and claims) and rules (one JSON record
// per thing and requester), and since version 2 tokens (by the SHA-256
// of the token, with the certificate and times in Unix seconds). Text that is compared or ordered uses byte
// order (SQLite's BINARY collation, PostgreSQL's "C"), the order of Go's
// strings and of the registry's keys. The schema version is recorded in
// xiot_schema; Open applies the migrations a database lacks, in one
// transaction per step (serialised between instances by a lock), and
// refuses a database written by a newer program.
//
// # Search
//
// Store implements registry.Searcher. A search becomes one SQL query
// whose operators are conditions on the tags table (strMask as GLOB on
// SQLite, LIKE on PostgreSQL, its metacharacters escaped; a mask with
// more than eight wildcards is narrowed by its literal prefix only). On
// SQLite the operator that fewest tags satisfy, counted by index probes
// of at most a few thousand rows, drives the query and the others are
// tested per thing; when every operator is broad, things are read in key
// order until the page is full. PostgreSQL's planner makes that choice
// itself from its statistics (Analyze after imports). Every row is
// checked again with registry.Matches, the reference, so the answer is
// exactly that of a scan; rows are read in key-ordered pages, never all
// at once.
//
// # Several instances
//
// Store implements registry.Locker: on PostgreSQL a session advisory lock
// serialises the registries' read-modify-write sequences across
// instances. A SQLite file serves one registry process.
package sqlstore
