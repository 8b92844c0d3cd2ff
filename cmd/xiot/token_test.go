//go:build !xiot_small

package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/boards/sim"
	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/provisioning"
	"github.com/xiot/xiot/provisioning/registry"
	provthing "github.com/xiot/xiot/provisioning/thing"
	"github.com/xiot/xiot/sensors/sensordata"
)

// writeIdentity writes a self-signed certificate (PEM) for pub and the
// PEM of priv (PKCS#8) under dir, and returns their paths.
func writeIdentity(t *testing.T, dir, name string, pub, priv any) (string, string) {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	k, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	cert, key := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// TestTokenCommand obtains tokens with "xiot token" from "xiot registry"
// on a real Prosody, and refuses keys that do not fit.
func TestTokenCommand(t *testing.T) {
	p := testserver.StartProsody(t, testserver.ProsodyOptions{})
	dir := t.TempDir()
	if err := p.Register("alice", "alice-pass"); err != nil {
		t.Fatal(err)
	}
	pass := filepath.Join(dir, "alice.pass")
	secret := filepath.Join(dir, "secret")
	cfgFile := filepath.Join(dir, "registry.yaml")
	for f, s := range map[string]string{pass: "alice-pass", secret: p.ComponentSecret,
		cfgFile: fmt.Sprintf("state_dir: %s\ncomponent:\n  domain: %s\n  server: %s\n  secret_file: %s\n", filepath.Join(dir, "state"), p.ComponentDomain, p.ComponentAddr, secret)} {
		if err := os.WriteFile(f, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	regOut, regErr := runRegistryT(t, cfgFile)

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cert, key := writeIdentity(t, dir, "alice", &rsaKey.PublicKey, rsaKey)
	_, otherKey := writeIdentity(t, dir, "other", &other.PublicKey, other)
	ecCert, ecKeyFile := writeIdentity(t, dir, "ec", &ecKey.PublicKey, ecKey)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	account := []string{"--jid", "alice@" + p.Domain, "--password-file", pass, "--server", p.C2SAddr, "--ca-file", p.CAFile,
		"--registry", p.ComponentDomain, "--timeout", "10s"}
	token := func(args ...string) (string, error) {
		var out, errOut syncBuffer
		err := runToken(ctx, append(append([]string{}, account...), args...), &out, &errOut)
		return out.String(), err
	}
	// The registry component may still be connecting: retry a little.
	var out string
	for range 50 {
		if out, err = token("--cert", cert, "--key", key); err == nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	tok := strings.TrimSuffix(out, "\n")
	if err != nil || len(tok) < 22 || strings.ContainsAny(tok, " \n\t") {
		t.Fatalf("xiot token = %q, %v\n%s", out, err, regErr.String())
	}

	// End to end: a device claimed by the owner, "xiot rules allow … token:TOK",
	// and a readout question carrying the token from a requester whose
	// Holder answers the challenge the device passes on.
	for _, u := range []string{"device", "owner"} {
		if err := p.Register(u, u+"-pass"); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, u+".pass"), []byte(u+"-pass"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	devMux := &xmpp.Mux{}
	dev := xmpp.New(xmpp.Config{JID: jid.MustParse("device@" + p.Domain + "/agent"), Password: "device-pass", Server: p.C2SAddr, TLS: p.TLSConfig(), Keepalive: -1}, devMux)
	client := provisioning.New(dev, jid.MustParse(p.ComponentDomain), provisioning.Options{Timeout: 5 * time.Second})
	client.Register(devMux)
	if err := dev.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	tags := []registry.Tag{{Name: "KEY", Value: "t0k3n-t0k3n-t0k3n"}, {Name: "MODEL", Value: "xiot"}}
	regEl := xmpp.NewElement(registry.NS, "register")
	for _, g := range tags {
		regEl.Add(xmpp.NewElement(registry.NS, "str", "name", g.Name, "value", g.Value))
	}
	if _, err := dev.SendIQ(ctx, xmpp.NewElement("", "iq", "type", "set", "to", p.ComponentDomain).Add(regEl)); err != nil {
		t.Fatal(err)
	}
	ownerArgs := []string{"--jid", "owner@" + p.Domain, "--password-file", filepath.Join(dir, "owner.pass"), "--server", p.C2SAddr, "--ca-file", p.CAFile, "--registry", p.ComponentDomain}
	var out2, err2 syncBuffer
	if err := runClaim(ctx, append(append([]string{}, ownerArgs...), registry.ClaimURI(tags)), &out2, &err2); err != nil {
		t.Fatalf("claim: %v\n%s", err, err2.String())
	}
	thing := "device@" + p.Domain
	rulesArgs := append(append([]string{"allow"}, ownerArgs...), "--fields", "temp", thing, "token:"+tok, "read")
	if err := runRules(ctx, rulesArgs, &out2, &err2); err != nil {
		t.Fatalf("rules allow token: %v\n%s", err, err2.String())
	}
	holder := provisioning.NewHolder(provisioning.Tokens{User: tok}, func(c []byte) ([]byte, error) {
		return rsa.DecryptOAEP(sha256.New(), nil, rsaKey, c, nil)
	}, nil)
	hmux := &xmpp.Mux{}
	holder.Register(hmux)
	requester := xmpp.New(xmpp.Config{JID: jid.MustParse("alice@" + p.Domain + "/holder"), Password: "alice-pass", Server: p.C2SAddr, TLS: p.TLSConfig(), Keepalive: -1}, hmux)
	if err := requester.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer requester.Close()
	canRead := func() []string {
		t.Helper()
		client.ClearCache()
		holder.Sent(dev.LocalJID())
		got, err := client.CanRead(provisioning.WithTokens(ctx, holder.Tokens()), requester.LocalJID(), nil, []string{"temp", "hum"})
		if err != nil {
			t.Fatalf("CanRead: %v", err)
		}
		return got
	}
	if got := canRead(); !reflect.DeepEqual(got, []string{"temp"}) {
		t.Fatalf("CanRead with a proven token = %#v, want [temp]\n%s", got, regErr.String())
	}
	logs := regErr.String() + regOut.String()
	if !strings.Contains(logs, "token issued") || !strings.Contains(logs, "rule changed") {
		t.Fatalf("registry logs lack the token's issue and rule:\n%s", logs)
	}
	if strings.Contains(logs, tok) {
		t.Fatal("the registry logged the token")
	}
	// "xiot read" with the token and its key reads what the token's rule
	// allows of a device whose readouts ask the registry; without the
	// key it cannot answer the challenge and reads nothing.
	b := sim.New(nil)
	ss, err := b.Sensors()
	if err != nil {
		t.Fatal(err)
	}
	canReadAuth, _ := provthing.Authorizers(client)
	srv := sensordata.NewServer(ss, sensordata.Options{CanRead: canReadAuth})
	defer srv.Close()
	srv.Register(devMux)
	if err := runRules(ctx, append(append([]string{"allow"}, ownerArgs...), "--fields", "Temperature", thing, "token:"+tok, "read"), &out2, &err2); err != nil {
		t.Fatalf("rules allow token Temperature: %v\n%s", err, err2.String())
	}
	client.ClearCache()
	if err := p.Register("bob", "bob-pass"); err != nil {
		t.Fatal(err)
	}
	bobPass := filepath.Join(dir, "bob.pass")
	if err := os.WriteFile(bobPass, []byte("bob-pass"), 0o600); err != nil {
		t.Fatal(err)
	}
	read := func(user, pw string, extra ...string) (string, string, error) {
		var o, e syncBuffer
		args := append(append([]string{"--jid", user + "@" + p.Domain, "--password-file", pw, "--server", p.C2SAddr, "--ca-file", p.CAFile,
			"--timeout", "15s", "--node", sim.NodeBME280, "--user-token", tok}, extra...), dev.LocalJID().String())
		err := runRead(ctx, args, &o, &e)
		return o.String(), e.String(), err
	}
	got, errOut, err := read("alice", pass, "--token-cert", cert, "--token-key", key)
	if err != nil || !strings.Contains(got, "Temperature") || strings.Contains(got, "Pressure") {
		t.Fatalf("xiot read with the token's key: %v\n%s\n%s\n%s", err, got, errOut, regErr.String())
	}
	// Bob has the token (it leaked) but not the key: he cannot answer the
	// challenge and reads nothing.
	client.ClearCache()
	if got, errOut, err := read("bob", bobPass); err == nil || strings.Contains(got, "Temperature") {
		t.Fatalf("xiot read with the token but without its key read (err %v):\n%s\n%s\n%s", err, got, errOut, regErr.String())
	}
	if out, err := token("--cert", cert, "--key", otherKey); err == nil || !strings.Contains(err.Error(), "does not belong") {
		t.Fatalf("mismatched key: %q, %v", out, err)
	}
	if out, err := token("--cert", ecCert, "--key", ecKeyFile); err == nil || !strings.Contains(err.Error(), "RSA") {
		t.Fatalf("ECDSA certificate: %q, %v", out, err)
	}
	if _, err := token("--cert", cert); err == nil {
		t.Fatal("xiot token without --key succeeded")
	}
}
