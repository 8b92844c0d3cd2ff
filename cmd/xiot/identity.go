//go:build !xiot_small

package main

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
)

// loadIdentity reads a certificate (PEM or DER) and its RSA private key
// (PEM), and checks that they belong together.
func loadIdentity(certFile, keyFile string) ([]byte, crypto.Decrypter, error) {
	b, err := os.ReadFile(certFile)
	if err != nil {
		return nil, nil, fmt.Errorf("certificate: %w", err)
	}
	der := b
	if blk, _ := pem.Decode(b); blk != nil {
		if blk.Type != "CERTIFICATE" {
			return nil, nil, fmt.Errorf("certificate %s: PEM block %q, want CERTIFICATE", certFile, blk.Type)
		}
		der = blk.Bytes
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("certificate %s: %w", certFile, err)
	}
	pub, ok := c.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, nil, fmt.Errorf("certificate %s: %s key: the registry's token challenges need an RSA key", certFile, c.PublicKeyAlgorithm)
	}
	b, err = os.ReadFile(keyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, nil, fmt.Errorf("key %s: not PEM", keyFile)
	}
	var key *rsa.PrivateKey
	switch blk.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
	case "PRIVATE KEY":
		var k any
		if k, err = x509.ParsePKCS8PrivateKey(blk.Bytes); err == nil {
			if key, ok = k.(*rsa.PrivateKey); !ok {
				err = fmt.Errorf("a %T, not an RSA key", k)
			}
		}
	default:
		err = fmt.Errorf("PEM block %q, want RSA PRIVATE KEY or PRIVATE KEY", blk.Type)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("key %s: %w", keyFile, err)
	}
	if !key.PublicKey.Equal(pub) {
		return nil, nil, fmt.Errorf("key %s does not belong to certificate %s", keyFile, certFile)
	}
	return der, key, nil
}
