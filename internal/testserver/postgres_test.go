package testserver

import (
	"context"
	"strings"
	"testing"
)

// TestPostgres starts a throwaway PostgreSQL, checks that it listens on
// loopback only and creates a second database.
func TestPostgres(t *testing.T) {
	p := StartPostgres(t)
	if !strings.HasPrefix(p.URL, "postgres://xiot:") || !strings.Contains(p.URL, p.Addr) {
		t.Fatalf("URL %q", p.URL)
	}
	out, err := p.psql(context.Background(), "SELECT current_setting('listen_addresses') || ' ' || current_user")
	if err != nil || out != "127.0.0.1 xiot" {
		t.Fatalf("server settings %q, %v", out, err)
	}
	u, err := p.CreateDatabase(context.Background(), "second")
	if err != nil || !strings.HasSuffix(strings.SplitN(u, "?", 2)[0], "/second") {
		t.Fatalf("CreateDatabase: %q, %v", u, err)
	}
	if _, err := p.CreateDatabase(context.Background(), "bad; DROP"); err == nil {
		t.Error("a bad database name was accepted")
	}
}
