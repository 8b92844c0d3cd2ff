package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// xmppClientALPN is the ALPN protocol of direct-TLS client connections
// (XEP-0368).
const xmppClientALPN = "xmpp-client"

// TLSConfig returns the TLS settings for the account's connection: server
// name from Account.ServerName, root CAs from account.ca_file (replacing
// the system roots) when set, verification off only when
// insecure_skip_verify is true, TLS 1.2 at least, the "xmpp-client"
// ALPN protocol for direct TLS, and only classic key exchanges when
// xmpp.tls_post_quantum is false.
func (c *Config) TLSConfig() (*tls.Config, error) {
	a := c.Account
	cfg := &tls.Config{
		ServerName:         a.ServerName(),
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: a.InsecureSkipVerify, //nolint:gosec // explicit opt-in, warned about by Warnings
	}
	if !c.XMPP.TLSPostQuantum {
		cfg.CurvePreferences = ClassicCurves()
	}
	if a.DirectTLS {
		cfg.NextProtos = []string{xmppClientALPN}
	}
	if a.CAFile != "" {
		pool, err := loadCAFile(a.CAFile)
		if err != nil {
			return nil, c.src.at("account.ca_file", err)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// loadCAFile reads a PEM bundle into a new pool.
func loadCAFile(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("CA bundle: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA bundle %s: no PEM certificate found", path)
	}
	return pool, nil
}

// ClassicCurves returns the TLS key exchanges offered with
// xmpp.tls_post_quantum off: no hybrid post-quantum key share, whose 1.2 KB
// each way weigh on a constrained link.
func ClassicCurves() []tls.CurveID { return []tls.CurveID{tls.X25519, tls.CurveP256} }
