//go:build !xiot_small

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/provisioning"
	"github.com/xiot/xiot/provisioning/registry"
)

// TestOwnerCommands drives "xiot claim", "xiot things", "xiot rules" and
// "xiot disown" against "xiot registry" on a real Prosody, with a device
// whose provisioning client asks the registry.
func TestOwnerCommands(t *testing.T) {
	p := testserver.StartProsody(t, testserver.ProsodyOptions{})
	dir := t.TempDir()
	passFile := map[string]string{}
	for _, u := range []string{"device", "owner", "alice"} {
		if err := p.Register(u, u+"-pass"); err != nil {
			t.Fatal(err)
		}
		passFile[u] = filepath.Join(dir, u+".pass")
		if err := os.WriteFile(passFile[u], []byte(u+"-pass"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte(p.ComponentSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "registry.yaml")
	if err := os.WriteFile(cfgFile, []byte(fmt.Sprintf("state_dir: %s\ncomponent:\n  domain: %s\n  server: %s\n  secret_file: %s\n",
		filepath.Join(dir, "state"), p.ComponentDomain, p.ComponentAddr, secret)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, regErr := runRegistryT(t, cfgFile)

	// The device: registers, acknowledges notifications, asks the registry.
	events := make(chan string, 16)
	mux := &xmpp.Mux{}
	mux.IQ("set", registry.NS, "disowned", xmpp.HandlerFunc(func(ctx context.Context, s *xmpp.Session, iq *xmpp.Element) error {
		events <- "disowned"
		return s.Send(ctx, xmpp.ResultIQ(iq, nil))
	}))
	mux.IQ("set", registry.NS, "claimed", xmpp.HandlerFunc(func(ctx context.Context, s *xmpp.Session, iq *xmpp.Element) error {
		events <- "claimed"
		return s.Send(ctx, xmpp.ResultIQ(iq, nil))
	}))
	dev := xmpp.New(xmpp.Config{JID: jid.MustParse("device@" + p.Domain + "/agent"), Password: "device-pass", Server: p.C2SAddr, TLS: p.TLSConfig(), Keepalive: -1}, mux)
	client := provisioning.New(dev, jid.MustParse(p.ComponentDomain), provisioning.Options{OnClearCache: func(context.Context) { events <- "clearCache" }})
	client.Register(mux)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := dev.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	tags := []registry.Tag{{Name: "KEY", Value: "k3y-k3y-k3y-k3y-k3y"}, {Name: "MODEL", Value: "xiot"}, {Name: "V", Num: 1.5, Numeric: true}}
	reg := xmpp.NewElement(registry.NS, "register").Add(
		xmpp.NewElement(registry.NS, "str", "name", "KEY", "value", "k3y-k3y-k3y-k3y-k3y"),
		xmpp.NewElement(registry.NS, "str", "name", "MODEL", "value", "xiot"),
		xmpp.NewElement(registry.NS, "num", "name", "V", "value", "1.5"))
	for {
		ictx, icancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := dev.SendIQ(ictx, xmpp.NewElement("", "iq", "type", "set", "to", p.ComponentDomain).Add(reg.Copy()))
		icancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("register: %v\n%s", err, regErr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	want := func(e string) {
		t.Helper()
		select {
		case got := <-events:
			if got != e {
				t.Fatalf("device event %q, want %q", got, e)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no device event %q", e)
		}
	}

	owner := []string{"--jid", "owner@" + p.Domain, "--password-file", passFile["owner"], "--server", p.C2SAddr, "--ca-file", p.CAFile, "--registry", p.ComponentDomain}
	xiot := func(cmd string, args ...string) (string, error) {
		t.Helper()
		var out, errOut syncBuffer
		f := map[string]func(context.Context, []string, *syncBuffer, *syncBuffer) error{
			"claim":  func(c context.Context, a []string, o, e *syncBuffer) error { return runClaim(c, a, o, e) },
			"things": func(c context.Context, a []string, o, e *syncBuffer) error { return runThings(c, a, o, e) },
			"rules":  func(c context.Context, a []string, o, e *syncBuffer) error { return runRules(c, a, o, e) },
			"disown": func(c context.Context, a []string, o, e *syncBuffer) error { return runDisown(c, a, o, e) },
		}[cmd]
		var full []string
		if cmd == "rules" {
			full = append([]string{args[0]}, append(owner, args[1:]...)...)
		} else {
			full = append(append([]string{}, owner...), args...)
		}
		err := f(ctx, full, &out, &errOut)
		return out.String() + errOut.String(), err
	}

	if out, err := xiot("claim", "IoTDisco;MODEL:xiot;KEY:wrong;#V:1.5"); err == nil || !strings.Contains(err.Error(), "item-not-found") {
		t.Fatalf("claim with a wrong KEY: %v\n%s", err, out)
	}
	out, err := xiot("claim", registry.ClaimURI(tags))
	if err != nil || out != "claimed device@"+p.Domain+"\n" {
		t.Fatalf("claim: %v\n%s", err, out)
	}
	want("claimed")
	thing := "device@" + p.Domain
	if out, err := xiot("things"); err != nil || !strings.HasPrefix(out, thing+" owner=owner@"+p.Domain) || strings.Contains(out, "k3y") {
		t.Fatalf("things: %v\n%s", err, out)
	}
	if out, err := xiot("things", "MODEL=xiot", "V>=1.5", "MODEL~x*t"); err != nil || !strings.HasPrefix(out, thing) {
		t.Fatalf("things search: %v\n%s", err, out)
	}
	if out, err := xiot("things", "V>2"); err != nil || out != "" {
		t.Fatalf("things search V>2: %v\n%s", err, out)
	}
	if out, err := xiot("rules", "list", thing); err != nil || !strings.Contains(out, "no rules") {
		t.Fatalf("rules list: %v\n%s", err, out)
	}
	alice := "alice@" + p.Domain
	if out, err := xiot("rules", "allow", "--fields", "temperature", thing, alice, "read"); err != nil || !strings.Contains(out, "read=allow control=ask fields=temperature") {
		t.Fatalf("rules allow: %v\n%q", err, out)
	}
	want("clearCache")
	got, err := client.CanRead(ctx, jid.MustParse(alice+"/x"), nil, []string{"temperature", "pressure"})
	if err != nil || !reflect.DeepEqual(got, []string{"temperature"}) {
		t.Fatalf("CanRead(alice) = %#v, %v", got, err)
	}
	if out, err := xiot("rules", "list", thing); err != nil || !strings.Contains(out, alice+": friend=ask read=allow control=ask fields=temperature") {
		t.Fatalf("rules list: %v\n%s", err, out)
	}
	if out, err := xiot("rules", "delete", thing, alice); err != nil {
		t.Fatalf("rules delete: %v\n%s", err, out)
	}
	want("clearCache")
	if got, err := client.CanRead(ctx, jid.MustParse(alice+"/x"), nil, nil); err != nil || len(got) != 0 {
		t.Fatalf("CanRead(alice) after delete = %#v, %v", got, err)
	}
	var ue *usageError
	if _, err := xiot("rules", "allow", thing, alice, "everything"); !errors.As(err, &ue) {
		t.Fatalf("rules allow everything: %v", err)
	}
	if out, err := xiot("disown", thing); err != nil || !strings.Contains(out, "disowned "+thing) {
		t.Fatalf("disown: %v\n%s", err, out)
	}
	want("disowned")
	if out, err := xiot("things"); err != nil || out != "" {
		t.Fatalf("things after disown: %v\n%s", err, out)
	}
}
