package sqlstore

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/xiot/xiot/internal/testserver"
)

// TestLock: two stores on one PostgreSQL database, as two registry
// instances: the second waits for the first's lock.
func TestLock(t *testing.T) {
	ctx := context.Background()
	pg := testserver.StartPostgres(t)
	a, err := Open(ctx, pg.URL, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, pg.URL, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	unlock, err := a.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wait, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err = b.Lock(wait)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second instance locked while the first held the lock: %v", err)
	}
	got := make(chan error, 1)
	go func() {
		u, err := b.Lock(ctx)
		if err == nil {
			u()
		}
		got <- err
	}()
	time.Sleep(100 * time.Millisecond)
	unlock()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the lock was not released")
	}
	// SQLite: one process; Lock returns at once.
	s, err := Open(ctx, filepath.Join(t.TempDir(), "r.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	u1, err := s.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	u1()
}
