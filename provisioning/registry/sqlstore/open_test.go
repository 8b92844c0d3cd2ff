package sqlstore

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/xiot/xiot/internal/testserver"
)

// migrationCases checks migrations on one engine: from empty, re-run on
// a current database, and refused on a newer one.
func migrationCases(t *testing.T, target string) {
	ctx := context.Background()
	for round := range 3 { // from empty, then re-run twice
		s, err := Open(ctx, target, Options{})
		if err != nil {
			t.Fatalf("open %d: %v", round, err)
		}
		if v, err := s.SchemaVersion(ctx); err != nil || v != Version {
			t.Fatalf("open %d: schema version %d, %v", round, v, err)
		}
		var n int
		if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM xiot_schema`).Scan(&n); err != nil || n != len(migrations) {
			t.Fatalf("open %d: %d migrations recorded, %v", round, n, err)
		}
		s.Close()
	}
	s, err := Open(ctx, target, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(ctx, s.d.q(`INSERT INTO xiot_schema (version, what) VALUES (?, ?)`), Version+1, "from the future"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = Open(ctx, target, Options{})
	if err == nil || !strings.Contains(err.Error(), "newer than this program's") {
		t.Fatalf("opening a newer schema: %v", err)
	}
}

func TestMigrations(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { migrationCases(t, filepath.Join(t.TempDir(), "r.db")) })
	t.Run("postgres", func(t *testing.T) { migrationCases(t, testserver.StartPostgres(t).URL) })
}

// TestConcurrentOpen opens one PostgreSQL database from several
// "instances" at once: the migration lock lets one of them migrate.
func TestConcurrentOpen(t *testing.T) {
	pg := testserver.StartPostgres(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			s, err := Open(context.Background(), pg.URL, Options{})
			if err == nil {
				err = s.Close()
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func TestSQLiteFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "new", "registry.db")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, %v; want %v", p, fi.Mode().Perm(), err, want)
		}
	}
	var mode string
	s, _ = Open(ctx, path, Options{})
	if err := s.db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal mode %q, %v", mode, err)
	}
	s.Close()

	readable := filepath.Join(dir, "readable.db")
	if err := os.WriteFile(readable, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	boltFile := filepath.Join(dir, "bolt.db")
	db, err := bolt.Open(boltFile, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	text := filepath.Join(dir, "text.db")
	if err := os.WriteFile(text, []byte("not a database at all, but long enough"), 0o600); err != nil {
		t.Fatal(err)
	}
	odd := filepath.Join(dir, "a?b#c%d.db") // URI metacharacters in the name
	tests := []struct {
		name, path string
		want       error
		msg        string
	}{
		{"group readable", readable, ErrUnsafePermissions, "chmod 600 " + readable},
		{"bbolt file", boltFile, ErrBoltFile, "--migrate-from-bolt " + boltFile},
		{"other file", text, nil, "not a SQLite database"},
		{"directory", dir, nil, "is a directory"},
		{"odd name", odd, nil, ""},
	}
	for _, tt := range tests {
		s, err := Open(ctx, tt.path, Options{})
		if tt.msg == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
				continue
			}
			s.Close()
			if _, err := os.Stat(tt.path); err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
			continue
		}
		if err == nil {
			s.Close()
			t.Errorf("%s: opened", tt.name)
			continue
		}
		if (tt.want != nil && !errors.Is(err, tt.want)) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: %v; want %v and %q", tt.name, err, tt.want, tt.msg)
		}
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/var/lib/xiot/registry.db", "/var/lib/xiot/registry.db"},
		{"postgres://reg:s3cret@db.example.org:5432/xiot?sslmode=require", "postgres://reg:xxxxx@db.example.org:5432/xiot?sslmode=require"},
		{"postgresql://reg@db/xiot?password=s3cret", "postgresql://reg@db/xiot?password=xxxxx"},
		{"POSTGRES://reg:s3cret@db/xiot", "postgres://reg:xxxxx@db/xiot"},
	}
	for _, tt := range tests {
		if got := Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestPostgresErrorsHidePassword opens a database with a wrong password
// and a missing database: the errors say what failed without the
// password.
func TestPostgresErrorsHidePassword(t *testing.T) {
	pg := testserver.StartPostgres(t)
	u, _ := url.Parse(pg.URL)
	u.User = url.UserPassword(pg.User, "wrong-pass-word")
	wrongPass := u.String()
	u, _ = url.Parse(pg.URL)
	u.Path = "/nodb"
	noDB := u.String()
	for _, target := range []string{wrongPass, noDB, "postgres://x:hunter22@127.0.0.1:1/x?connect_timeout=bad"} {
		s, err := Open(context.Background(), target, Options{})
		if err == nil {
			s.Close()
			t.Fatalf("opened %s", Redact(target))
		}
		for _, secret := range []string{"wrong-pass-word", pg.Password, "hunter22"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error shows the password: %v", err)
			}
		}
		t.Logf("%v", err)
	}
}
