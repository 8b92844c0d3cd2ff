package provisioning_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/provisioning"
)

// selfSigned returns a key and a self-signed certificate (DER) for it.
func selfSigned(t *testing.T) (*rsa.PrivateKey, []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "device"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return key, der
}

func TestTokens(t *testing.T) {
	t.Parallel()
	key, cert := selfSigned(t)
	decrypt := func(c []byte) ([]byte, error) { return rsa.DecryptOAEP(sha256.New(), nil, key, c, nil) }
	e := setup(t, provisioning.Options{Decrypt: decrypt, Timeout: time.Second})
	e.prov.setRule("alice@localhost", rule{read: true})
	ctx := ctxT(t)
	dev := e.dev.LocalJID().String()

	// The device obtains its token.
	token, err := e.client.GetToken(ctx, cert)
	if err != nil || token != "DEVICETOKEN1" {
		t.Fatalf("GetToken = %q, %v", token, err)
	}

	challenge := func(from *xmpp.Session, tok string, data []byte) ([]byte, error) {
		t.Helper()
		res, err := from.SendIQ(ctx, xmpp.NewElement("", "iq", "type", "get", "to", dev).Add(provisioning.TokenChallenge{Token: tok, Challenge: data}.Element()))
		if err != nil {
			return nil, err
		}
		v, err := provisioning.Parse(res.FirstChild())
		if err != nil {
			t.Fatalf("challenge answer %s: %v", res, err)
		}
		return v.(provisioning.TokenChallengeResponse).Response, nil
	}
	wantForbidden := func(what string, err error) {
		t.Helper()
		var se *xmpp.StanzaError
		if !errors.As(err, &se) || se.Condition != "forbidden" {
			t.Fatalf("%s: %v, want forbidden", what, err)
		}
	}

	// Not sent to anybody yet: refused (§3.1.3.2).
	secret := []byte("the device's own secret")
	enc, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, &key.PublicKey, secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = challenge(e.prov.sess, token, enc)
	wantForbidden("challenge of a token never sent", err)

	// Sent to the server: the device proves it holds the key.
	e.client.NoteTokensSent(jid.MustParse("prov@localhost"), provisioning.Tokens{Device: token})
	got, err := challenge(e.prov.sess, token, enc)
	if err != nil || string(got) != string(secret) {
		t.Fatalf("own token challenge = %q, %v", got, err)
	}

	// A requester's token passed on in canRead: the challenge goes on to
	// the requester, whose answer comes back.
	aliceMux := &xmpp.Mux{}
	aliceAsked := make(chan provisioning.TokenChallenge, 1)
	aliceMux.IQ("get", provisioning.NS, "tokenChallenge", xmpp.IQFunc(func(_ context.Context, iq *xmpp.Element) (*xmpp.Element, error) {
		v, err := provisioning.Parse(iq.FirstChild())
		if err != nil {
			return nil, err
		}
		aliceAsked <- v.(provisioning.TokenChallenge)
		return provisioning.TokenChallengeResponse{Response: []byte("alice's answer")}.Element(), nil
	}))
	alice := connect(t, clientConfig(t, e.p, "alice", "amr"), aliceMux)
	rctx := provisioning.WithTokens(ctx, provisioning.Tokens{User: "USERTOKEN1", Service: "S1 S2"})
	if _, err := e.client.CanRead(rctx, alice.LocalJID(), nil, nil); err != nil {
		t.Fatal(err)
	}
	got, err = challenge(e.prov.sess, "S2", []byte{1, 2, 3})
	if err != nil || string(got) != "alice's answer" {
		t.Fatalf("propagated challenge = %q, %v", got, err)
	}
	if tc := <-aliceAsked; tc.Token != "S2" || string(tc.Challenge) != "\x01\x02\x03" {
		t.Fatalf("alice was asked %#v", tc)
	}

	// Somebody the token was not sent to is refused.
	bobMux := &xmpp.Mux{}
	bobMux.IQ("get", provisioning.NS, "tokenChallenge", xmpp.HandlerFunc(func(context.Context, *xmpp.Session, *xmpp.Element) error {
		return nil // never answers
	}))
	bob := connect(t, clientConfig(t, e.p, "bob", "b"), bobMux)
	_, err = challenge(bob, "USERTOKEN1", []byte{1})
	wantForbidden("challenge from a stranger", err)

	// A requester that does not answer: the challenger hears so in time.
	if _, err := e.client.CanRead(provisioning.WithTokens(ctx, provisioning.Tokens{User: "BOBTOKEN"}), bob.LocalJID(), nil, nil); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = challenge(e.prov.sess, "BOBTOKEN", []byte{1})
	var se *xmpp.StanzaError
	if !errors.As(err, &se) || se.Condition != "remote-server-timeout" {
		t.Fatalf("challenge passed on to a silent requester: %v, want remote-server-timeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("answer took %v", d)
	}
}

// TestHolder answers token challenges for a requester's own tokens, with
// DecryptOAEP: only for its tokens, only from a party they were sent to,
// and only with the right key.
func TestHolder(t *testing.T) {
	t.Parallel()
	p := testserver.StartProsody(t, testserver.ProsodyOptions{})
	register(t, p, "alice", "dev", "eve")
	key, _ := selfSigned(t)
	holder := provisioning.NewHolder(provisioning.Tokens{User: "U1", Service: "S1"}, provisioning.DecryptOAEP(key), nil)
	mux := &xmpp.Mux{}
	holder.Register(mux)
	alice := connect(t, clientConfig(t, p, "alice", "a"), mux)
	dev := connect(t, clientConfig(t, p, "dev", "d"), nil)
	eve := connect(t, clientConfig(t, p, "eve", "e"), nil)
	ctx := ctxT(t)
	secret := []byte("a random block")
	enc, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, &key.PublicKey, secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	challenge := func(from *xmpp.Session, tok string, data []byte) (string, error) {
		t.Helper()
		res, err := from.SendIQ(ctx, xmpp.NewElement("", "iq", "type", "get", "to", alice.LocalJID().String()).
			Add(provisioning.TokenChallenge{Token: tok, Challenge: data}.Element()))
		if err != nil {
			var se *xmpp.StanzaError
			if errors.As(err, &se) {
				return "", errors.New(se.Condition)
			}
			return "", err
		}
		v, err := provisioning.Parse(res.FirstChild())
		if err != nil {
			t.Fatalf("answer %s: %v", res, err)
		}
		return string(v.(provisioning.TokenChallengeResponse).Response), nil
	}
	check := func(what string, got string, err error, want string) {
		t.Helper()
		if (err == nil && got != want) || (err != nil && err.Error() != want) {
			t.Fatalf("%s: %q, %v; want %s", what, got, err, want)
		}
	}
	got, err := challenge(dev, "U1", enc)
	check("before sending", got, err, "forbidden")
	holder.Sent(dev.LocalJID())
	got, err = challenge(dev, "U1", enc)
	check("after sending", got, err, string(secret))
	got, err = challenge(dev, "S1", enc)
	check("the other token", got, err, string(secret))
	got, err = challenge(dev, "X1", enc)
	check("a token not the holder's", got, err, "forbidden")
	got, err = challenge(eve, "U1", enc)
	check("from a party not sent to", got, err, "forbidden")
	other, _ := selfSigned(t)
	enc2, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, &other.PublicKey, secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err = challenge(dev, "U1", enc2)
	check("encrypted to another key", got, err, "forbidden")
}
