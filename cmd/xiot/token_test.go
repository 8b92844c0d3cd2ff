//go:build !xiot_small

package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xiot/xiot/internal/testserver"
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
	var regOut, regErr syncBuffer
	rctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runRegistry(rctx, []string{"--config", cfgFile}, &regOut, &regErr) }()
	defer func() {
		stop()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("registry did not stop")
		}
	}()

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
	if strings.Contains(regErr.String()+regOut.String(), tok) {
		t.Fatal("the registry logged the token")
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
