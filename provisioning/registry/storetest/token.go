package storetest

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/xiot/xiot/provisioning/registry"
)

// testTokens checks a registry.TokenStore: records round-trip, survive a
// restart, are replaced, and expire. Other stores skip it.
func testTokens(t *testing.T, f Factory) {
	s, reopen := f(t)
	if _, ok := s.(registry.TokenStore); !ok {
		s.Close()
		t.Skip("not a registry.TokenStore")
	}
	ctx := context.Background()
	base := now.Truncate(time.Second)
	rec := func(tok, jid string, life time.Duration) registry.TokenRecord {
		cert := []byte("certificate of " + jid + "\x00\xff")
		return registry.TokenRecord{ID: registry.TokenID(tok), JID: jid, Fingerprint: registry.Fingerprint(cert),
			Certificate: cert, Created: base, Expires: base.Add(life)}
	}
	a, b := rec("A-token", "alice@example.org", time.Hour), rec("B-token", "bob@example.org", time.Minute)
	for _, r := range []registry.TokenRecord{a, b} {
		if err := s.(registry.TokenStore).PutToken(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s = reopen()
	defer s.Close()
	ts := s.(registry.TokenStore)
	for _, want := range []registry.TokenRecord{a, b} {
		got, err := ts.Token(ctx, want.ID)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("Token(%s) = %+v, %v; want %+v", want.JID, got, err, want)
		}
	}
	if _, err := ts.Token(ctx, registry.TokenID("never issued")); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("unknown token: %v, want ErrNotFound", err)
	}
	// Replaced.
	a2 := a
	a2.Expires = base.Add(2 * time.Hour)
	if err := ts.PutToken(ctx, a2); err != nil {
		t.Fatal(err)
	}
	if got, err := ts.Token(ctx, a.ID); err != nil || !got.Expires.Equal(a2.Expires) {
		t.Fatalf("replaced token: %+v, %v", got, err)
	}
	// Expiry: only b is gone.
	n, err := ts.DeleteExpiredTokens(ctx, base.Add(time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("DeleteExpiredTokens = %d, %v; want 1", n, err)
	}
	if _, err := ts.Token(ctx, b.ID); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("expired token still there: %v", err)
	}
	if _, err := ts.Token(ctx, a.ID); err != nil {
		t.Fatalf("live token deleted: %v", err)
	}
	if err := ts.PutToken(ctx, registry.TokenRecord{}); err == nil {
		t.Fatal("a record without ID was saved")
	}
}
