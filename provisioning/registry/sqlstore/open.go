package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// ErrUnsafePermissions is wrapped by the error Open returns for a SQLite
// file that group or others may read: it holds the things' KEYs.
var ErrUnsafePermissions = errors.New("unsafe permissions")

// ErrBoltFile is wrapped by the error Open returns for a file written by
// the former bbolt store; "xiot registry --migrate-from-bolt" converts it.
var ErrBoltFile = errors.New("a bbolt registry store, not SQLite")

// Options tune Open. The zero value is the default.
type Options struct {
	// BusyTimeout is how long SQLite waits for another connection's
	// lock, and bounds PostgreSQL's connection set-up; default 5 s.
	BusyTimeout time.Duration
	// MaxConns bounds the connections to PostgreSQL; default 8.
	MaxConns int
}

// IsURL reports whether target names a PostgreSQL database
// (postgres:// or postgresql://) rather than a SQLite file.
func IsURL(target string) bool {
	l := strings.ToLower(target)
	return strings.HasPrefix(l, "postgres://") || strings.HasPrefix(l, "postgresql://")
}

// Redact returns target fit for logs and errors: a URL with its password
// (in the user part or a password parameter) replaced by xxxxx; a path
// unchanged.
func Redact(target string) string {
	if !IsURL(target) {
		return target
	}
	u, err := url.Parse(target)
	if err != nil {
		return "postgres://(unparsable URL)"
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// Open opens the store at target, a SQLite file path or a postgres://
// URL, and brings its schema to the current version.
func Open(ctx context.Context, target string, opts Options) (*Store, error) {
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = 5 * time.Second
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = 8
	}
	var (
		db   *sql.DB
		d    *dialect
		name = Redact(target)
		err  error
	)
	if IsURL(target) {
		db, err = openPostgres(target, opts)
		d = postgresDialect
	} else {
		db, err = openSQLite(target, opts)
		d = sqliteDialect
	}
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, d: d, name: name, probeCap: defaultProbeCap}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, scrub(fmt.Errorf("sqlstore: %s: %w", name, err), target)
	}
	return s, nil
}

// openPostgres connects to the database of url.
func openPostgres(target string, opts Options) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(target)
	if err != nil {
		return nil, scrub(fmt.Errorf("sqlstore: %s: %w", Redact(target), err), target)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = opts.BusyTimeout
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(opts.MaxConns)
	db.SetMaxIdleConns(opts.MaxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return db, nil
}

// scrub replaces the password of target wherever err's text shows it.
func scrub(err error, target string) error {
	if err == nil || !IsURL(target) {
		return err
	}
	var pw []string
	if u, perr := url.Parse(target); perr == nil {
		if p, ok := u.User.Password(); ok && p != "" {
			pw = append(pw, p, url.QueryEscape(p), url.PathEscape(p))
		}
		if p := u.Query().Get("password"); p != "" {
			pw = append(pw, p, url.QueryEscape(p))
		}
	}
	msg := err.Error()
	for _, p := range pw {
		msg = strings.ReplaceAll(msg, p, "xxxxx")
	}
	if msg == err.Error() {
		return err
	}
	return errors.New(msg)
}

// File headers told apart by openSQLite.
var sqliteMagic = []byte("SQLite format 3\x00")

const boltMagic = 0xED0CDAED // at offset 16 of a bbolt file, little endian

// openSQLite creates or checks the file at path (mode 0600, its
// directory 0700 when created) and opens it in WAL mode.
func openSQLite(path string, opts Options) (*sql.DB, error) {
	if path == "" {
		return nil, errors.New("sqlstore: no file name")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("sqlstore: %w", err)
	}
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: %w", err)
	}
	err = checkFile(f, path)
	f.Close()
	if err != nil {
		return nil, err
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", opts.BusyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", u.String()+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlstore: opening %s: %w", path, err)
	}
	return db, nil
}

// checkFile refuses a file that group or others may read, that is not a
// regular file, or that holds something other than SQLite.
func checkFile(f *os.File, path string) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("sqlstore: %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("sqlstore: %s: not a regular file (%s)", path, fi.Mode().Type())
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return fmt.Errorf("sqlstore: %s: %w: mode %#o lets group or others read the things' keys; fix with: chmod 600 %s",
			path, ErrUnsafePermissions, perm, path)
	}
	head := make([]byte, 32)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return fmt.Errorf("sqlstore: %s: %w", path, err)
	}
	head = head[:n]
	switch {
	case n == 0 || bytes.HasPrefix(head, sqliteMagic):
		return nil
	case n >= 20 && binary.LittleEndian.Uint32(head[16:20]) == boltMagic:
		return fmt.Errorf("sqlstore: %s: %w: convert it with: xiot registry --config FILE --migrate-from-bolt %s",
			path, ErrBoltFile, path)
	}
	return fmt.Errorf("sqlstore: %s: not a SQLite database (header %q)", path, head[:min(n, 16)])
}
