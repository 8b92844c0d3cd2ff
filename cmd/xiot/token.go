//go:build !xiot_small

package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/provisioning"
)

const tokenUsage = `Usage: xiot token [flags] --cert CERT --key KEY

Obtains a XEP-0324 token from the registry (the provisioning server) for
the X.509 certificate CERT, proving with its private key KEY that you
hold it: the registry encrypts a challenge to the certificate's RSA key
(RSA-OAEP, SHA-256), and this command decrypts it. The token is printed
on standard output, nothing else; pass it in readouts and control
requests (xiot read --user-token …), and let owners allow it with
"xiot rules allow THING token:TOKEN …". A rule about a token is honoured
only for a requester who answers the registry's challenge of it.

CERT is PEM or DER; KEY is a PEM RSA private key (PKCS#1 or PKCS#8), at
least 2048 bits. The registry is --registry, else the configuration's
provisioning.server.

Examples:
  xiot token --config me.yaml --cert me.crt --key me.key
  xiot token --config service.yaml --registry registry.example.org --cert svc.pem --key svc-key.pem
`

// runToken implements "xiot token".
func runToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("token", tokenUsage)
	var o ownerFlags
	o.register(fs, false)
	certFile := fs.String("cert", "", "X.509 certificate `file` (PEM or DER)")
	keyFile := fs.String("key", "", "its RSA private key `file` (PEM)")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usagef(fs, "no arguments expected, got %q", fs.Args())
	}
	if *certFile == "" || *keyFile == "" {
		return usagef(fs, "--cert and --key are required")
	}
	cert, key, err := loadIdentity(*certFile, *keyFile)
	if err != nil {
		return err
	}
	cfg, err := o.acct.load()
	if err != nil {
		return err
	}
	reg := o.registry
	if reg == "" {
		reg = cfg.Provisioning.Server.String()
	}
	if reg == "" {
		return errors.New("no registry: give --registry or provisioning.server")
	}
	regJID, err := jid.Parse(reg)
	if err != nil {
		return fmt.Errorf("--registry %q: %w", reg, err)
	}
	lctx, cancel := context.WithTimeout(ctx, o.acct.timeout)
	defer cancel()
	s, err := o.acct.connect(lctx, stderr, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	c := provisioning.New(s, regJID, provisioning.Options{
		Timeout: o.acct.timeout / 2,
		Decrypt: provisioning.DecryptOAEP(key),
	})
	token, err := c.GetToken(lctx, cert)
	if err != nil {
		return explain(err)
	}
	_, err = fmt.Fprintln(stdout, token)
	return err
}
