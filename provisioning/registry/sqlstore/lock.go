package sqlstore

import (
	"context"
	"database/sql/driver"
	"fmt"
	"time"

	"github.com/xiot/xiot/provisioning/registry"
)

var _ registry.Locker = (*Store)(nil)

// registryLock is the PostgreSQL advisory lock key of the registry's
// read-modify-write sequences.
const registryLock = 7369747

// Lock implements registry.Locker. On PostgreSQL it takes a session
// advisory lock on a connection of its own, held until unlock, so that
// registry instances sharing the database do not interleave a claim or
// an update. SQLite serves one registry process; its lock is the
// registry's own mutex, and Lock returns at once.
func (s *Store) Lock(ctx context.Context) (func(), error) {
	if s.d.lock == "" {
		return func() {}, nil
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: %s: lock: %w", s.name, err)
	}
	if _, err := conn.ExecContext(ctx, s.d.q(`SELECT pg_advisory_lock(?)`), int64(registryLock)); err != nil {
		conn.Close()
		return nil, fmt.Errorf("sqlstore: %s: lock: %w", s.name, err)
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := conn.ExecContext(ctx, s.d.q(`SELECT pg_advisory_unlock(?)`), int64(registryLock)); err != nil {
			// A connection that cannot unlock is not reused: closing
			// its session releases the lock.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		conn.Close()
	}, nil
}
