package thing_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/provisioning"
	"github.com/xiot/xiot/provisioning/thing"
)

// savedCache is a cache file as SaveCache writes it, with one isFriend
// decision about alice from server.
func savedCache(server string, friend bool) string {
	q := provisioning.IsFriend{JID: "alice@example.org"}.Element().String()
	a := provisioning.IsFriendResponse{JID: "alice@example.org", Result: friend}.Element().String()
	return "<cache xmlns='" + provisioning.NSCache + "' server='" + server + "'><decision>" + q + a + "</decision></cache>"
}

// TestCacheFile: decisions kept in the file answer after a restart
// without the server; the file is 0600 and replaced without leftovers; a
// damaged file or one of another server loads nothing (fail closed).
func TestCacheFile(t *testing.T) {
	server := jid.MustParse("prov.example.org")
	alice := jid.MustParse("alice@example.org/phone")
	for _, tc := range []struct {
		name, content string
		want          int // decisions loaded
	}{
		{"saved", savedCache("prov.example.org", true), 1},
		{"none", "", 0},
		{"damaged", "<cache", 0},
		{"other server", savedCache("other.example.org", true), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "sub", "cache.xml")
			if tc.content != "" {
				if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			// No session: only cached decisions can answer.
			c := provisioning.New(nil, server, provisioning.Options{})
			f := thing.OpenCache(c, path, nil)
			if c.Cached() != tc.want {
				t.Fatalf("loaded %d decisions, want %d", c.Cached(), tc.want)
			}
			ok, err := c.IsFriend(context.Background(), alice)
			if tc.want == 1 && (!ok || err != nil) {
				t.Errorf("IsFriend from the loaded cache: %v, %v", ok, err)
			}
			if tc.want == 0 && (ok || err == nil) {
				t.Errorf("IsFriend without a decision: %v, %v (want a refusal)", ok, err)
			}
			if err := f.Save(); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(path)
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("saved file: %v, %v", fi, err)
			}
			ents, _ := os.ReadDir(filepath.Dir(path))
			if len(ents) != 1 {
				t.Errorf("files %v, want the cache file only", ents)
			}
			// A restarted device reads what was saved.
			c2 := provisioning.New(nil, server, provisioning.Options{})
			thing.OpenCache(c2, path, nil)
			if c2.Cached() != tc.want {
				t.Errorf("reloaded %d decisions, want %d", c2.Cached(), tc.want)
			}
			// Cleared: the file follows.
			c.ClearCache()
			if err := f.Save(); err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(path)
			if strings.Contains(string(b), "alice") {
				t.Errorf("file after clearCache: %s", b)
			}
			if err := f.Remove(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Errorf("file after Remove: %v", err)
			}
		})
	}
}
