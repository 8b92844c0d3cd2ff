//go:build !xiot_small

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/provisioning/registry"
)

// TestRegistryCommand runs "xiot registry" as a component of a real
// Prosody: a device registers, its owner claims it, the command stops as
// SIGINT would and, started again, still knows the thing and its owner.
func TestRegistryCommand(t *testing.T) {
	p := testserver.StartProsody(t, testserver.ProsodyOptions{})
	for _, u := range []string{"device", "owner"} {
		if err := p.Register(u, u+"-pass"); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
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
`, filepath.Join(dir, "state"), p.ComponentDomain, p.ComponentAddr, secret)
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
