package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// writeFile writes data to dir/name with mode perm (chmod'ed explicitly,
// so the umask does not interfere) and returns the path.
func writeFile(t *testing.T, dir, name, data string, perm os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(data), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, perm); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadSecretFile(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		data    string
		perm    os.FileMode
		want    string
		wantErr []string // substrings of the error
		is      error
	}{
		{name: "owner only", data: "s3cret\n", perm: 0o600, want: "s3cret"},
		{name: "read-only owner", data: "s3cret", perm: 0o400, want: "s3cret"},
		{name: "CRLF and inner newline", data: "a\nb\r\n", perm: 0o600, want: "a\nb"},
		{name: "only one newline removed", data: "pw\n\n", perm: 0o600, want: "pw\n"},
		{name: "group and world readable", data: "x", perm: 0o644, wantErr: []string{"mode 0644", "chmod 600 "}, is: ErrUnsafePermissions},
		{name: "group readable", data: "x", perm: 0o640, wantErr: []string{"mode 0640"}, is: ErrUnsafePermissions},
		{name: "world writable only", data: "x", perm: 0o602, wantErr: []string{"mode 0602"}, is: ErrUnsafePermissions},
		{name: "empty", data: "\n", perm: 0o600, wantErr: []string{"empty"}, is: ErrMissing},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, dir, fmt.Sprintf("secret%d", i), tc.data, tc.perm)
			got, err := ReadSecretFile(p)
			if tc.wantErr == nil {
				if err != nil || got != tc.want {
					t.Fatalf("ReadSecretFile = %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("ReadSecretFile = %q, want error", got)
			}
			if !strings.Contains(err.Error(), p) {
				t.Errorf("error %q does not name the file %s", err, p)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if !errors.Is(err, tc.is) {
				t.Errorf("error %v does not wrap %v", err, tc.is)
			}
			if strings.Contains(err.Error(), tc.data) && tc.data != "x" {
				t.Errorf("error %q leaks the secret", err)
			}
		})
	}
	t.Run("directory", func(t *testing.T) {
		_, err := ReadSecretFile(dir)
		if !errors.Is(err, ErrUnsafePermissions) || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("error = %v, want not a regular file", err)
		}
	})
	t.Run("missing", func(t *testing.T) {
		_, err := ReadSecretFile(filepath.Join(dir, "nope"))
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("error = %v, want ErrNotExist", err)
		}
	})
}

func TestPassword(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "good", "pw-from-file\n", 0o600)
	loose := writeFile(t, dir, "loose", "pw", 0o644)
	tests := []struct {
		name    string
		yaml    string
		want    string
		wantErr string // prefix
	}{
		{"file", "account:\n  jid: d@example.org\n  password_file: " + good + "\n", "pw-from-file", ""},
		{"inline", "account:\n  jid: d@example.org\n  password: inline\n", "inline", ""},
		{"relative file", "account:\n  jid: d@example.org\n  password_file: good\n", "pw-from-file", ""},
		{"chmod 0644 refused with line, key, path and hint", "account:\n  jid: d@example.org\n  password_file: " + loose + "\n",
			"", "xiot.yaml:3: account.password_file: secret file " + loose + ": unsafe secret file: mode 0644 lets group or others read it; fix with: chmod 600 " + loose},
		{"none", "account:\n  jid: d@example.org\n", "", "xiot.yaml:1: account: required setting missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Decode(filepath.Join(dir, "xiot.yaml"), []byte(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Password()
			if tc.wantErr == "" {
				if err != nil || got != tc.want {
					t.Fatalf("Password() = %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), filepath.Join(dir, tc.wantErr)) && !strings.HasPrefix(err.Error(), dir+"/"+tc.wantErr) {
				t.Errorf("Password() error = %v\nwant prefix %s/%s", err, dir, tc.wantErr)
			}
		})
	}
}

func TestComponentSecret(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "comp", "shared\n", 0o600)
	c, err := Decode(filepath.Join(dir, "x.yaml"), []byte("component:\n  domain: reg.example.org\n  server: localhost:5347\n  secret_file: comp\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s, err := c.ComponentSecret(); err != nil || s != "shared" {
		t.Errorf("ComponentSecret() = %q, %v", s, err)
	}
	// Component-only configurations need no account.
	if err := c.Preflight(); err != nil {
		t.Errorf("Preflight() on a component-only config = %v", err)
	}
	if _, err := Default().ComponentSecret(); !errors.Is(err, ErrMissing) {
		t.Errorf("ComponentSecret() without a file = %v", err)
	}
}

// testCA writes a self-signed CA certificate in PEM to dir/ca.pem.
func testCA(t *testing.T, dir string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "xiot test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), 0o644)
}

func TestTLSConfigAndPreflight(t *testing.T) {
	dir := t.TempDir()
	testCA(t, dir)
	writeFile(t, dir, "pw", "pw", 0o600)
	writeFile(t, dir, "loose", "pw", 0o604)
	writeFile(t, dir, "notpem.pem", "hello", 0o644)
	tests := []struct {
		name      string
		yaml      string
		wantName  string
		wantRoots bool
		wantALPN  bool
		wantErr   []string // Preflight error substrings, in order
	}{
		{"defaults", "account:\n  jid: d@example.org\n  password_file: pw\n", "example.org", false, false, nil},
		{"CA, name and direct TLS", "account:\n  jid: d@example.org\n  password_file: pw\n  ca_file: ca.pem\n  tls_server_name: xmpp.example.net\n  direct_tls: true\n", "xmpp.example.net", true, true, nil},
		{"not PEM", "account:\n  jid: d@example.org\n  password_file: pw\n  ca_file: notpem.pem\n", "", false, false, []string{"x.yaml:4: account.ca_file: CA bundle " + dir + "/notpem.pem: no PEM certificate found"}},
		{"everything missing", "board: sim\n", "", false, false, []string{"account.jid: required setting missing", "account: required setting missing"}},
		{"loose password and missing CA", "account:\n  jid: d@example.org\n  password_file: loose\n  ca_file: none.pem\n", "", false, false, []string{"x.yaml:3: account.password_file:", "chmod 600", "x.yaml:4: account.ca_file: CA bundle: open"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Decode(filepath.Join(dir, "x.yaml"), []byte(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			err = c.Preflight()
			if tc.wantErr != nil {
				if err == nil {
					t.Fatal("Preflight() succeeded")
				}
				rest := err.Error()
				for _, w := range tc.wantErr {
					i := strings.Index(rest, w)
					if i < 0 {
						t.Fatalf("Preflight() error:\n%v\nmissing (in order) %q", err, w)
					}
					rest = rest[i+len(w):]
				}
				return
			}
			if err != nil {
				t.Fatalf("Preflight() = %v", err)
			}
			cfg, err := c.TLSConfig()
			if err != nil {
				t.Fatal(err)
			}
			if cfg.ServerName != tc.wantName || (cfg.RootCAs != nil) != tc.wantRoots || (len(cfg.NextProtos) == 1) != tc.wantALPN || cfg.InsecureSkipVerify {
				t.Errorf("TLSConfig() = name %q roots %v alpn %v insecure %v", cfg.ServerName, cfg.RootCAs != nil, cfg.NextProtos, cfg.InsecureSkipVerify)
			}
		})
	}
}

func TestSecretRedaction(t *testing.T) {
	const pw = "hunter2-very-secret"
	c, err := Decode("x.yaml", []byte("account:\n  jid: d@example.org\n  password: "+pw+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "cfg", c, "account", c.Account)
	js, err := json.Marshal(c.Account)
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"%v":  fmt.Sprintf("%v", c.Account),
		"%+v": fmt.Sprintf("%+v", c.Account),
		"%#v": fmt.Sprintf("%#v", c.Account),
		//lint:ignore S1025 the test checks what the %s verb prints
		"%s":     fmt.Sprintf("%s", c.Account.Password),
		"String": c.String(),
		"slog":   logged.String(),
		"json":   string(js),
	}
	for name, out := range outputs {
		if strings.Contains(out, pw) {
			t.Errorf("%s output leaks the password: %s", name, out)
		}
		if !strings.Contains(out, redacted) {
			t.Errorf("%s output does not show %s: %s", name, redacted, out)
		}
	}
	if got, err := c.Password(); err != nil || got != pw {
		t.Errorf("Password() = %q, %v", got, err)
	}
	if Secret("").String() != "" {
		t.Error("empty secret should print empty")
	}
}

func TestWarnings(t *testing.T) {
	tests := []struct {
		yaml string
		want []string
	}{
		{"account:\n  jid: d@example.org\n  password_file: /pw\n", nil},
		{"account:\n  jid: d@example.org\n  password: x\n", []string{"x.yaml:3: account.password: password stored inline"}},
		{"account:\n  jid: d@example.org\n  password_file: /pw\n  insecure_skip_verify: true\n  allow_plain: true\n  ca_file: /ca\n",
			[]string{"x.yaml:4: account.insecure_skip_verify: TLS CERTIFICATE VERIFICATION IS OFF", "x.yaml:5: account.allow_plain:", "x.yaml:6: account.ca_file: ignored"}},
	}
	for _, tc := range tests {
		c, err := Decode("x.yaml", []byte(tc.yaml))
		if err != nil {
			t.Fatal(err)
		}
		got := c.Warnings()
		if len(got) != len(tc.want) {
			t.Errorf("Warnings() = %q, want %d", got, len(tc.want))
			continue
		}
		for i := range got {
			if !strings.HasPrefix(got[i], tc.want[i]) {
				t.Errorf("warning %d = %q, want prefix %q", i, got[i], tc.want[i])
			}
		}
	}
}

func TestTLSPostQuantum(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		want []tls.CurveID
	}{
		{"account:\n  jid: d@example.org\n", nil}, // Go's defaults, hybrid ML-KEM first
		{"account:\n  jid: d@example.org\nxmpp:\n  tls_post_quantum: false\n", []tls.CurveID{tls.X25519, tls.CurveP256}},
	} {
		c, err := Decode("x.yaml", []byte(tc.yaml))
		if err != nil {
			t.Fatal(err)
		}
		tc2, err := c.TLSConfig()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(tc2.CurvePreferences, tc.want) {
			t.Errorf("%q: curves %v, want %v", tc.yaml, tc2.CurvePreferences, tc.want)
		}
	}
}
