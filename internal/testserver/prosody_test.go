package testserver

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestProsodyTLS(t *testing.T) {
	p := StartProsody(t, ProsodyOptions{DirectTLS: true})

	foreignPEM, _, err := selfSigned([]string{"localhost"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	foreign := x509.NewCertPool()
	foreign.AppendCertsFromPEM(foreignPEM)
	caFile, err := os.ReadFile(p.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	fromFile := x509.NewCertPool()
	if !fromFile.AppendCertsFromPEM(caFile) {
		t.Fatalf("CAFile %s holds no PEM certificate", p.CAFile)
	}

	// On the direct-TLS port Prosody picks the certificate by SNI and
	// refuses names it does not serve ("unrecognized name"), so a wildcard
	// name that is no host fails there although the certificate covers it.
	tests := []struct {
		name         string
		cfg          *tls.Config
		startTLSErr  handshakeResult
		directTLSErr handshakeResult
	}{
		{"CertPool", p.TLSConfig(), verified, verified},
		{"CAFile", &tls.Config{RootCAs: fromFile, ServerName: "localhost"}, verified, verified},
		{"wildcard name", &tls.Config{RootCAs: p.CertPool(), ServerName: "device.localhost"}, verified, refusedName},
		{"component name", &tls.Config{RootCAs: p.CertPool(), ServerName: p.ComponentDomain}, verified, verified},
		{"untrusted pool", &tls.Config{RootCAs: foreign, ServerName: "localhost"}, untrusted, untrusted},
		{"empty pool", &tls.Config{RootCAs: x509.NewCertPool(), ServerName: "localhost"}, untrusted, untrusted},
		{"wrong name", &tls.Config{RootCAs: p.CertPool(), ServerName: "example.org"}, untrusted, refusedName},
	}
	for _, tc := range tests {
		t.Run("starttls/"+tc.name, func(t *testing.T) {
			err := dialRaw(t, p.C2SAddr).startTLS(t, tc.cfg)
			checkHandshake(t, err, tc.startTLSErr)
		})
		t.Run("directtls/"+tc.name, func(t *testing.T) {
			conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", p.DirectTLSAddr, tc.cfg)
			if err == nil {
				conn.Close()
			}
			checkHandshake(t, err, tc.directTLSErr)
		})
	}
}

// handshakeResult is the expected outcome of a TLS handshake.
type handshakeResult int

const (
	verified    handshakeResult = iota // handshake succeeds
	untrusted                          // client rejects the certificate
	refusedName                        // server rejects the SNI name
)

func checkHandshake(t *testing.T, err error, want handshakeResult) {
	t.Helper()
	switch want {
	case verified:
		if err != nil {
			t.Fatalf("handshake: %v", err)
		}
	case untrusted:
		var unknown x509.UnknownAuthorityError
		var hostname x509.HostnameError
		if !errors.As(err, &unknown) && !errors.As(err, &hostname) {
			t.Fatalf("handshake error = %v, want a certificate verification error", err)
		}
	case refusedName:
		if err == nil || !strings.Contains(err.Error(), "unrecognized name") {
			t.Fatalf("handshake error = %v, want the server's unrecognized_name alert", err)
		}
	}
}

func TestProsodyRegisterKillRestart(t *testing.T) {
	p := StartProsody(t, ProsodyOptions{})
	if p.DirectTLSAddr != "" {
		t.Errorf("DirectTLSAddr = %q without DirectTLS", p.DirectTLSAddr)
	}
	if err := p.Register("device", "devpass"); err != nil {
		t.Fatal(err)
	}
	login := func(t *testing.T, user, pass string) bool {
		t.Helper()
		s := dialRaw(t, p.C2SAddr)
		if err := s.startTLS(t, p.TLSConfig()); err != nil {
			t.Fatalf("STARTTLS: %v", err)
		}
		mechs, ok := s.plainAuth(t, user, pass)
		if !slices.Contains(mechs, "SCRAM-SHA-256") {
			t.Errorf("mechanisms = %v, want SCRAM-SHA-256 among them", mechs)
		}
		return ok
	}
	checkLogins := func(t *testing.T) {
		t.Helper()
		for _, c := range []struct {
			user, pass string
			want       bool
		}{
			{"device", "devpass", true},
			{"device", "wrong", false},
			{"nobody", "devpass", false},
		} {
			if got := login(t, c.user, c.pass); got != c.want {
				t.Errorf("login %s/%s = %v, want %v", c.user, c.pass, got, c.want)
			}
		}
	}
	checkLogins(t)

	addr := p.C2SAddr
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	if p.Running() {
		t.Fatal("Running after Kill")
	}
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		conn.Close()
		t.Fatalf("%s still accepts connections after Kill", addr)
	}
	start := time.Now()
	if err := p.Restart(); err != nil {
		t.Fatal(err)
	}
	t.Logf("restart after kill took %v", time.Since(start))
	if p.C2SAddr != addr {
		t.Fatalf("C2SAddr changed from %s to %s", addr, p.C2SAddr)
	}
	checkLogins(t) // the account survived in the data directory

	// Stop then Restart, and an account registered while the server is down.
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := p.Register("client", "clipass"); err != nil {
		t.Fatal(err)
	}
	if err := p.Restart(); err != nil {
		t.Fatal(err)
	}
	if !login(t, "client", "clipass") {
		t.Error("account registered while stopped cannot log in")
	}
	if !strings.Contains(p.LogTail(), "prosody.log") {
		t.Errorf("LogTail has no prosody.log section:\n%s", p.LogTail())
	}
}

func TestProsodyComponent(t *testing.T) {
	p := StartProsody(t, ProsodyOptions{ComponentDomain: "sensors.localhost"})
	if p.ComponentDomain != "sensors.localhost" {
		t.Fatalf("ComponentDomain = %q", p.ComponentDomain)
	}
	if !componentHandshake(t, p.ComponentAddr, p.ComponentDomain, p.ComponentSecret) {
		t.Error("handshake with the right secret refused")
	}
	if componentHandshake(t, p.ComponentAddr, p.ComponentDomain, p.ComponentSecret+"x") {
		t.Error("handshake with a wrong secret accepted")
	}
}

func TestProsodyClose(t *testing.T) {
	p, err := Start(t.Context(), ProsodyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("directory %s after Close: %v", p.Dir, err)
	}
	if conn, err := net.DialTimeout("tcp", p.C2SAddr, time.Second); err == nil {
		conn.Close()
		t.Errorf("%s still accepts connections after Close", p.C2SAddr)
	}
}

func TestNotInstalled(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	if _, err := Start(t.Context(), ProsodyOptions{}); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("Start without prosody in PATH: %v, want ErrNotInstalled", err)
	}
	if _, err := StartMosquittoContext(t.Context(), MosquittoOptions{}); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("StartMosquittoContext without mosquitto in PATH: %v, want ErrNotInstalled", err)
	}
	err := errors.Unwrap(ErrNotInstalled)
	if err != nil || !strings.Contains(ErrNotInstalled.Error(), "scripts/install-deps.sh") {
		t.Errorf("ErrNotInstalled = %q, want it to name scripts/install-deps.sh", ErrNotInstalled)
	}
}

func TestProsodyRestartPortTaken(t *testing.T) {
	p := StartProsody(t, ProsodyOptions{StartTimeout: 5 * time.Second})
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	// Another process now holds the c2s port: Prosody keeps running without
	// it, and a TCP connect alone would reach the intruder.
	ln, err := net.Listen("tcp", p.C2SAddr)
	if err != nil {
		t.Fatalf("take %s: %v", p.C2SAddr, err)
	}
	defer ln.Close()
	err = p.Restart()
	if !errors.Is(err, errPortTaken) {
		t.Fatalf("Restart with the c2s port taken: %v, want errPortTaken", err)
	}
	if p.Running() {
		t.Error("Prosody still running after a failed start")
	}
	ln.Close()
	if err := p.Restart(); err != nil {
		t.Fatalf("Restart once the port is free again: %v", err)
	}
}

// A port held by an outgoing connection (its local port) cannot be bound
// by Prosody and never accepts a dial: Restart must say so from the log
// at once instead of waiting for the start timeout.
func TestProsodyRestartPortHeldByClient(t *testing.T) {
	p := StartProsody(t, ProsodyOptions{StartTimeout: 10 * time.Second})
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	peer, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	local, err := net.ResolveTCPAddr("tcp", p.C2SAddr)
	if err != nil {
		t.Fatal(err)
	}
	d := net.Dialer{LocalAddr: local}
	conn, err := d.Dial("tcp", peer.Addr().String())
	if err != nil {
		t.Fatalf("connect from %s: %v", p.C2SAddr, err)
	}
	defer conn.Close()
	start := time.Now()
	err = p.Restart()
	if !errors.Is(err, errPortTaken) {
		t.Fatalf("Restart with the c2s port held by a client: %v, want errPortTaken", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Restart took %v to notice, want well under the 10 s start timeout", d)
	}
	conn.Close()
	peer.Close()
	if err := p.Restart(); err != nil {
		t.Fatalf("Restart once the port is free again: %v", err)
	}
}
