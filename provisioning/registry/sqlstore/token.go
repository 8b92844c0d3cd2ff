package sqlstore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/xiot/xiot/provisioning/registry"
)

var _ registry.TokenStore = (*Store)(nil)

// PutToken implements registry.TokenStore.
func (s *Store) PutToken(ctx context.Context, r registry.TokenRecord) error {
	if r.ID == "" {
		return errors.New("sqlstore: token record without ID")
	}
	if _, err := s.db.ExecContext(ctx, s.d.q(`INSERT INTO tokens (id, jid, fingerprint, certificate, created, expires)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET jid = excluded.jid, fingerprint = excluded.fingerprint,
			certificate = excluded.certificate, created = excluded.created, expires = excluded.expires`),
		r.ID, r.JID, r.Fingerprint, base64.StdEncoding.EncodeToString(r.Certificate), r.Created.Unix(), r.Expires.Unix()); err != nil {
		return fmt.Errorf("sqlstore: saving a token of %s: %w", r.JID, err)
	}
	return nil
}

// Token implements registry.TokenStore.
func (s *Store) Token(ctx context.Context, id string) (registry.TokenRecord, error) {
	r := registry.TokenRecord{ID: id}
	var cert string
	var created, expires int64
	err := s.db.QueryRowContext(ctx, s.d.q(`SELECT jid, fingerprint, certificate, created, expires FROM tokens WHERE id = ?`), id).
		Scan(&r.JID, &r.Fingerprint, &cert, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return registry.TokenRecord{}, fmt.Errorf("sqlstore: token: %w", registry.ErrNotFound)
	}
	if err != nil {
		return registry.TokenRecord{}, fmt.Errorf("sqlstore: token: %w", err)
	}
	if r.Certificate, err = base64.StdEncoding.DecodeString(cert); err != nil {
		return registry.TokenRecord{}, fmt.Errorf("sqlstore: token of %s: certificate: %w", r.JID, err)
	}
	r.Created, r.Expires = time.Unix(created, 0).UTC(), time.Unix(expires, 0).UTC()
	return r, nil
}

// DeleteExpiredTokens implements registry.TokenStore.
func (s *Store) DeleteExpiredTokens(ctx context.Context, t time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, s.d.q(`DELETE FROM tokens WHERE expires < ?`), t.Unix())
	if err != nil {
		return 0, fmt.Errorf("sqlstore: deleting expired tokens: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlstore: deleting expired tokens: %w", err)
	}
	return int(n), nil
}
