//go:build !xiot_small

package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/provisioning/registry"
	"github.com/xiot/xiot/provisioning/registry/boltstore"
	"github.com/xiot/xiot/provisioning/registry/sqlstore"
)

// TestRegistryCommand runs "xiot registry" as a component of a real
// Prosody, on each store: a device registers, its owner claims it and
// sets a rule, the command stops as SIGINT would and, started again,
// still knows the thing, its owner and the rule.
func TestRegistryCommand(t *testing.T) {
	tests := []struct {
		name  string
		store func(t *testing.T, dir string) (yaml, secret string)
	}{
		{"sqlite default", func(t *testing.T, dir string) (string, string) { return "", "" }},
		{"postgres", func(t *testing.T, dir string) (string, string) {
			pg := testserver.StartPostgres(t)
			pwFile := filepath.Join(dir, "pg.pass")
			if err := os.WriteFile(pwFile, []byte(pg.Password+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			u, _ := url.Parse(pg.URL)
			u.User = url.User(pg.User)
			return fmt.Sprintf("  store: %s\n  store_password_file: %s\n", u, pwFile), pg.Password
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			storeYAML, secret := tt.store(t, dir)
			registryRestart(t, dir, storeYAML, secret)
		})
	}
}

// registryRestart is the scenario of TestRegistryCommand, with the
// registry: section's store lines; secret must never be logged.
func registryRestart(t *testing.T, dir, storeYAML, storeSecret string) {
	p := testserver.StartProsody(t, testserver.ProsodyOptions{})
	for _, u := range []string{"device", "owner"} {
		if err := p.Register(u, u+"-pass"); err != nil {
			t.Fatal(err)
		}
	}
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte(p.ComponentSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "registry.yaml")
	yaml := fmt.Sprintf(`state_dir: %s
component:
  domain: %s
  server: %s
  secret_file: %s
registry:
  claim_burst: 3
%s`, filepath.Join(dir, "state"), p.ComponentDomain, p.ComponentAddr, secret, storeYAML)
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut syncBuffer
	if err := runRegistry(t.Context(), []string{"--config", cfgFile, "--check-config"}, &out, &errOut); err != nil || !strings.Contains(out.String(), "configuration ok") {
		t.Fatalf("--check-config: %v\n%s", err, errOut.String())
	}
	start := func() (stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- runRegistry(ctx, []string{"--config", cfgFile}, &out, &errOut) }()
		return func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("registry ended with %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("registry did not stop\n%s", errOut.String())
			}
		}
	}
	stop := start()
	client := func(user string) *xmpp.Session {
		s := xmpp.New(xmpp.Config{JID: jid.MustParse(user + "@" + p.Domain + "/t"), Password: user + "-pass", Server: p.C2SAddr, TLS: p.TLSConfig(), Keepalive: -1}, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := s.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	dev, owner := client("device"), client("owner")
	// iq polls until the component answers (it may still be connecting).
	iq := func(s *xmpp.Session, typ string, payload *xmpp.Element) (*xmpp.Element, error) {
		deadline := time.Now().Add(20 * time.Second)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			res, err := s.SendIQ(ctx, xmpp.NewElement("", "iq", "type", typ, "to", p.ComponentDomain).Add(payload.Copy()))
			cancel()
			var se *xmpp.StanzaError
			if err == nil || (errors.As(err, &se) && se.Condition != "service-unavailable" && se.Condition != "remote-server-not-found" && se.Condition != "remote-server-timeout") || time.Now().After(deadline) {
				return res, err
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	tags := func(local string) *xmpp.Element {
		return xmpp.NewElement(registry.NS, local).Add(
			xmpp.NewElement(registry.NS, "str", "name", "MODEL", "value", "xiot"),
			xmpp.NewElement(registry.NS, "str", "name", "KEY", "value", "s3cr3t-s3cr3t-s3cr3t"))
	}
	if _, err := iq(dev, "set", tags("register")); err != nil {
		t.Fatalf("register: %v\n%s", err, errOut.String())
	}
	res, err := iq(owner, "set", tags("mine"))
	if err != nil || res.FirstChild().Get("jid") != "device@"+p.Domain {
		t.Fatalf("claim: %v, %v", res, err)
	}
	rule := xmpp.NewElement(registry.NSRules, "rule", "jid", "device@"+p.Domain, "requester", "bob@"+p.Domain, "read", "allow")
	if _, err := iq(owner, "set", rule); err != nil {
		t.Fatalf("rule: %v", err)
	}
	stop()

	stop = start()
	defer stop()
	res, err = iq(owner, "get", xmpp.NewElement(registry.NSRules, "things"))
	if err != nil {
		t.Fatalf("things after restart: %v", err)
	}
	things := res.FirstChild().Children()
	if len(things) != 1 || things[0].Get("jid") != "device@"+p.Domain || things[0].Get("owner") != "owner@"+p.Domain {
		t.Fatalf("things after restart: %s", res)
	}
	res, err = iq(owner, "get", xmpp.NewElement(registry.NSRules, "rules", "jid", "device@"+p.Domain))
	if err != nil {
		t.Fatalf("rules after restart: %v", err)
	}
	if rules := res.FirstChild().Children(); len(rules) != 1 || rules[0].Get("requester") != "bob@"+p.Domain || rules[0].Get("read") != "allow" {
		t.Fatalf("rules after restart: %s", res)
	}
	if storeYAML == "" {
		if fi, err := os.Stat(filepath.Join(dir, "state", "registry.db")); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("default SQLite store: %v, %v", fi, err)
		}
	}
	if storeSecret != "" && strings.Contains(errOut.String()+out.String(), storeSecret) {
		t.Errorf("the log shows the database password:\n%s", errOut.String())
	}
	for _, want := range []string{"xiot registry starting", "XMPP component online", "thing claimed", "xiot registry stopped"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, errOut.String())
		}
	}
	if strings.Contains(errOut.String(), "s3cr3t") {
		t.Errorf("the log shows a KEY:\n%s", errOut.String())
	}
}

func TestRegistryUsage(t *testing.T) {
	var out, errOut syncBuffer
	if err := runRegistry(t.Context(), []string{"--help"}, &out, &errOut); !errors.Is(err, errHelp) || !strings.Contains(out.String(), "Examples:") {
		t.Errorf("--help: %v\n%s", err, out.String())
	}
	if err := runRegistry(t.Context(), nil, &out, &errOut); err == nil {
		t.Error("no --config accepted")
	}
}

// TestRegistryMigrateFromBolt converts the bbolt store of an older xiot
// at the default store path: the registry refuses to start on it, the
// conversion renames it and copies every thing and rule into SQLite, and
// a second conversion finds the store not empty.
func TestRegistryMigrateFromBolt(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	path := filepath.Join(state, "registry.db")
	old, err := boltstore.Open(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	var want []registry.Thing
	for i := range 1500 {
		th := registry.Thing{Key: registry.Key{JID: fmt.Sprintf("dev%04d@x", i)}, Owner: "owner@x", Public: i%2 == 0,
			Tags: []registry.Tag{{Name: "KEY", Value: fmt.Sprint("k", i)}, {Name: "N", Num: float64(i), Numeric: true}}, Registered: now, Updated: now}
		want = append(want, th)
		if err := old.PutThing(ctx, th); err != nil {
			t.Fatal(err)
		}
	}
	rule := registry.Rule{Thing: want[7].Key, Requester: "bob@x", Control: registry.Deny, Updated: now}
	if err := old.PutRule(ctx, rule); err != nil {
		t.Fatal(err)
	}
	old.Close()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("component-secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "registry.yaml")
	yaml := fmt.Sprintf("state_dir: %s\ncomponent:\n  domain: reg.localhost\n  server: 127.0.0.1:1\n  secret_file: %s\n", state, secret)
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut syncBuffer
	err = runRegistry(ctx, []string{"--config", cfgFile}, &out, &errOut)
	if !errors.Is(err, sqlstore.ErrBoltFile) || !strings.Contains(err.Error(), "--migrate-from-bolt "+path) {
		t.Fatalf("registry on a bbolt file: %v", err)
	}
	if err := runRegistry(ctx, []string{"--config", cfgFile, "--migrate-from-bolt", path}, &out, &errOut); err != nil {
		t.Fatalf("--migrate-from-bolt: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "migrated 1500 things and 1 rules") {
		t.Errorf("output: %s", out.String())
	}
	if _, err := os.Stat(path + ".bolt"); err != nil {
		t.Errorf("the bbolt file was not kept aside: %v", err)
	}
	s, err := sqlstore.Open(ctx, path, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []registry.Thing
	if err := s.Things(ctx, "", func(th registry.Thing) bool { got = append(got, th); return true }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%d things after migration, want %d the same", len(got), len(want))
	}
	if rules, err := s.Rules(ctx, rule.Thing); err != nil || !reflect.DeepEqual(rules, []registry.Rule{rule}) {
		t.Errorf("rules after migration: %+v, %v", rules, err)
	}
	s.Close()
	err = runRegistry(ctx, []string{"--config", cfgFile, "--migrate-from-bolt", path + ".bolt"}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "already holds things") {
		t.Errorf("second migration: %v", err)
	}
}
