package registry_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/boards/sim"
	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/provisioning"
	"github.com/xiot/xiot/provisioning/registry"
	provthing "github.com/xiot/xiot/provisioning/thing"
	"github.com/xiot/xiot/sensors"
	"github.com/xiot/xiot/sensors/sensordata"
)

// certificate returns a self-signed certificate (DER) for key.
func certificate(t *testing.T, pub, priv any) []byte {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "xiot test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// rsaIdentity is an RSA key, its certificate and its decrypter.
type rsaIdentity struct {
	cert    []byte
	decrypt func([]byte) ([]byte, error)
}

func newRSAIdentity(t *testing.T) rsaIdentity {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return rsaIdentity{cert: certificate(t, &key.PublicKey, key),
		decrypt: func(c []byte) ([]byte, error) { return rsa.DecryptOAEP(sha256.New(), nil, key, c, nil) }}
}

// TestTokens runs getToken and token challenges against the registry on
// a real Prosody: tokens are issued only to the holder of a certificate's
// key, and a rule about a token is honoured only for a requester who
// answers the challenge through the device.
func TestTokens(t *testing.T) {
	p := testserver.StartProsody(t, testserver.ProsodyOptions{})
	for _, u := range []string{"device", "owner", "alice", "mallory"} {
		if err := p.Register(u, u+"-pass"); err != nil {
			t.Fatal(err)
		}
	}
	var later atomic.Int64 // the registry's clock runs this far ahead
	startRegistryWith(t, p, filepath.Join(t.TempDir(), "registry.db"), func(o *registry.Options) {
		o.TokenBurst, o.TokenEvery = 50, time.Minute
		o.TokenLifetime = 30 * 24 * time.Hour
		o.Now = func() time.Time { return time.Now().Add(time.Duration(later.Load())) }
	})
	domain := jid.MustParse(p.ComponentDomain)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	aliceID, malloryID := newRSAIdentity(t), newRSAIdentity(t)

	// getToken through provisioning.Client: the right answer gets a token.
	aliceMux := &xmpp.Mux{}
	alice := xmpp.New(clientConfig(t, p, "alice", "a"), aliceMux)
	aliceProv := provisioning.New(alice, domain, provisioning.Options{Decrypt: aliceID.decrypt, Timeout: 5 * time.Second})
	mallory := connect(t, clientConfig(t, p, "mallory", "m"), nil)
	malloryProv := provisioning.New(mallory, domain, provisioning.Options{Decrypt: malloryID.decrypt, Timeout: 5 * time.Second})
	aliceTok := func() string {
		// Alice answers challenges of her token (registered below).
		if err := alice.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { alice.Close() })
		tok, err := aliceProv.GetToken(ctx, aliceID.cert)
		if err != nil {
			t.Fatalf("GetToken: %v", err)
		}
		return tok
	}()
	if len(aliceTok) < 22 || !isURLSafe(aliceTok) {
		t.Fatalf("token %q: want ≥128 bits, URL-safe", aliceTok)
	}
	again, err := aliceProv.GetToken(ctx, aliceID.cert)
	if err != nil || again == aliceTok {
		t.Fatalf("second GetToken = %q, %v; want another token", again, err)
	}
	malloryTok, err := malloryProv.GetToken(ctx, malloryID.cert)
	if err != nil {
		t.Fatal(err)
	}

	// Raw getToken: wrong answers, unknown and replayed seqnr, bad keys.
	getToken := func(s *xmpp.Session, cert []byte) (provisioning.GetTokenChallenge, error) {
		res, err := request(t, s, domain.String(), "get", `<getToken xmlns='urn:xmpp:iot:provisioning'>`+base64.StdEncoding.EncodeToString(cert)+`</getToken>`)
		if err != nil {
			return provisioning.GetTokenChallenge{}, err
		}
		v, err := provisioning.Parse(res)
		if err != nil {
			t.Fatalf("getToken answer %s: %v", res, err)
		}
		return v.(provisioning.GetTokenChallenge), nil
	}
	respond := func(s *xmpp.Session, seq int32, data []byte) (*xmpp.Element, error) {
		return request(t, s, domain.String(), "get", `<getTokenChallengeResponse xmlns='urn:xmpp:iot:provisioning' seqnr='`+
			strconv.Itoa(int(seq))+`'>`+base64.StdEncoding.EncodeToString(data)+`</getTokenChallengeResponse>`)
	}
	ch, err := getToken(mallory, aliceID.cert) // Mallory has Alice's certificate, not her key
	if err != nil {
		t.Fatal(err)
	}
	if _, err := malloryID.decrypt(ch.Challenge); err == nil {
		t.Fatal("a challenge to Alice's key decrypts with Mallory's")
	}
	if _, err := respond(mallory, ch.SeqNr, make([]byte, 32)); condition(err) != "bad-request" {
		t.Fatalf("wrong answer: %v, want bad-request", err)
	}
	if _, err := respond(mallory, ch.SeqNr, make([]byte, 32)); condition(err) != "item-not-found" {
		t.Fatalf("second answer to one challenge: %v, want item-not-found", err)
	}
	if _, err := respond(mallory, 12345, nil); condition(err) != "item-not-found" {
		t.Fatalf("unknown seqnr: %v, want item-not-found", err)
	}
	// Another JID cannot answer Alice's challenge, even rightly.
	ch, err = getToken(alice, aliceID.cert)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := aliceID.decrypt(ch.Challenge)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := respond(mallory, ch.SeqNr, plain); condition(err) != "item-not-found" {
		t.Fatalf("answer from another JID: %v, want item-not-found", err)
	}
	if res, err := respond(alice, ch.SeqNr, plain); err != nil || res.Get("token") == "" {
		t.Fatalf("right raw answer: %v, %v", res, err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := getToken(mallory, certificate(t, &ecKey.PublicKey, ecKey)); condition(err) != "not-acceptable" {
		t.Fatalf("ECDSA certificate: %v, want not-acceptable", err)
	}
	if _, err := getToken(mallory, []byte("not a certificate")); condition(err) != "bad-request" {
		t.Fatalf("garbage certificate: %v, want bad-request", err)
	}
	// Challenges waiting are bounded per JID.
	var refused bool
	for range 6 {
		if _, err := getToken(mallory, malloryID.cert); err != nil {
			if condition(err) != "resource-constraint" {
				t.Fatalf("getToken: %v", err)
			}
			refused = true
			break
		}
	}
	if !refused {
		t.Fatal("6 unanswered getToken challenges were all accepted")
	}

	// The device, claimed by the owner, who allows the token's holder
	// the field temp.
	devMux := &xmpp.Mux{}
	dev := xmpp.New(clientConfig(t, p, "device", "dev"), devMux)
	client := provisioning.New(dev, domain, provisioning.Options{Timeout: 5 * time.Second})
	client.Register(devMux)
	if err := dev.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dev.Close() })
	owner := connect(t, clientConfig(t, p, "owner", "o"), nil)
	if _, err := request(t, dev, domain.String(), "set", `<register xmlns='urn:xmpp:iot:discovery'>`+tags+`</register>`); err != nil {
		t.Fatal(err)
	}
	if _, err := request(t, owner, domain.String(), "set", `<mine xmlns='urn:xmpp:iot:discovery'>`+tags+`</mine>`); err != nil {
		t.Fatal(err)
	}
	thing := "device@" + p.Domain
	rule := registry.RuleElement(registry.Rule{Thing: registry.Key{JID: thing}, Requester: registry.TokenPrefix + aliceTok,
		Read: registry.Allow, Fields: []string{"temp"}})
	if _, err := request(t, owner, domain.String(), "set", rule.String()); err != nil {
		t.Fatalf("token rule: %v", err)
	}

	// Alice's tokens are answered by her Holder, counting challenges.
	holder := provisioning.NewHolder(provisioning.Tokens{User: aliceTok}, aliceID.decrypt, nil)
	var challenged atomic.Int32
	aliceMux.IQ("get", provisioning.NS, "tokenChallenge", xmpp.HandlerFunc(func(ctx context.Context, s *xmpp.Session, iq *xmpp.Element) error {
		challenged.Add(1)
		m := &xmpp.Mux{}
		holder.Register(m)
		return m.HandleStanza(ctx, s, iq)
	}))
	read := func(who jid.JID, tokens provisioning.Tokens) []string {
		t.Helper()
		client.ClearCache()
		fields, err := client.CanRead(provisioning.WithTokens(ctx, tokens), who, nil, []string{"temp", "hum"})
		switch {
		case err != nil:
			t.Fatalf("CanRead for %s: %v", who, err)
		case fields == nil:
			return []string{"all"}
		case len(fields) == 0:
			return []string{"refused"}
		}
		return fields
	}
	aliceJID := alice.LocalJID()

	// Alice sent her token to the device, but her holder does not know
	// it yet: the challenge fails and the token's rule does not apply.
	if got := read(aliceJID, holder.Tokens()); !slices.Equal(got, []string{"refused"}) || challenged.Load() != 1 {
		t.Fatalf("readout with an unproven token: %v (challenges %d), want refused after one challenge", got, challenged.Load())
	}
	// Within a minute the failure is remembered: no new challenge.
	if got := read(aliceJID, holder.Tokens()); !slices.Equal(got, []string{"refused"}) || challenged.Load() != 1 {
		t.Fatalf("readout again: %v (challenges %d)", got, challenged.Load())
	}
	// Mallory presents Alice's token: challenged through the device, she
	// cannot decrypt it.
	malloryHolder := provisioning.NewHolder(provisioning.Tokens{User: aliceTok}, malloryID.decrypt, nil)
	malloryMux := &xmpp.Mux{}
	malloryHolder.Register(malloryMux)
	mallory2 := connect(t, clientConfig(t, p, "mallory", "m2"), malloryMux)
	malloryHolder.Sent(dev.LocalJID())
	if got := read(mallory2.LocalJID(), malloryHolder.Tokens()); !slices.Equal(got, []string{"refused"}) {
		t.Fatalf("Mallory with Alice's token: %v, want refused", got)
	}
	// A token never issued, and Mallory's own token (no rule): nothing.
	if got := read(mallory2.LocalJID(), provisioning.Tokens{Service: "forged-" + aliceTok[7:]}); !slices.Equal(got, []string{"refused"}) {
		t.Fatalf("forged token: %v, want refused", got)
	}
	if got := read(mallory2.LocalJID(), provisioning.Tokens{Device: malloryTok}); !slices.Equal(got, []string{"refused"}) {
		t.Fatalf("Mallory's own token: %v, want refused", got)
	}

	// Alice, using a second client (another JID: failures are remembered
	// per requester), answers through the device: the rule's fields.
	holder.Sent(dev.LocalJID())
	alice2Mux := &xmpp.Mux{}
	alice2Mux.IQ("get", provisioning.NS, "tokenChallenge", xmpp.HandlerFunc(func(ctx context.Context, s *xmpp.Session, iq *xmpp.Element) error {
		challenged.Add(1)
		m := &xmpp.Mux{}
		holder.Register(m)
		return m.HandleStanza(ctx, s, iq)
	}))
	if err := p.Register("alice2", "alice2-pass"); err != nil {
		t.Fatal(err)
	}
	alice2 := connect(t, clientConfig(t, p, "alice2", "a"), alice2Mux)
	before := challenged.Load()
	if got := read(alice2.LocalJID(), holder.Tokens()); !slices.Equal(got, []string{"temp"}) || challenged.Load() != before+1 {
		t.Fatalf("readout with a proven token: %v (challenges %d), want [temp] after one challenge", got, challenged.Load()-before)
	}
	// Verified: the next question is answered without a challenge.
	if got := read(alice2.LocalJID(), holder.Tokens()); !slices.Equal(got, []string{"temp"}) || challenged.Load() != before+1 {
		t.Fatalf("readout again: %v (challenges %d)", got, challenged.Load()-before)
	}

	// A real readout (XEP-0323, userToken) of the device serving the sim
	// board with the agent's authoriser: the token's rule now allows
	// Energy; Carol gets it once her Holder answered the challenge that
	// the device passed on to her, and nothing without the token.
	b := sim.New(nil)
	ss, err := b.Sensors()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, s := range ss {
			s.Halt()
		}
	})
	canRead, _ := provthing.Authorizers(client)
	srv := sensordata.NewServer(ss, sensordata.Options{CanRead: canRead})
	t.Cleanup(func() { srv.Close() })
	srv.Register(devMux)
	rule = registry.RuleElement(registry.Rule{Thing: registry.Key{JID: thing}, Requester: registry.TokenPrefix + aliceTok,
		Read: registry.Allow, Fields: []string{"Energy"}})
	if _, err := request(t, owner, domain.String(), "set", rule.String()); err != nil {
		t.Fatalf("token rule: %v", err)
	}
	if err := p.Register("carol", "carol-pass"); err != nil {
		t.Fatal(err)
	}
	carolMux := &xmpp.Mux{}
	reader := sensordata.NewClient(carolMux)
	carolHolder := provisioning.NewHolder(provisioning.Tokens{User: aliceTok}, aliceID.decrypt, nil)
	carolHolder.Register(carolMux)
	carol := connect(t, clientConfig(t, p, "carol", "c"), carolMux)
	readout := func(token string) ([]string, error) {
		t.Helper()
		client.ClearCache()
		carolHolder.Sent(dev.LocalJID())
		res, err := reader.Read(ctx, carol, dev.LocalJID().String(), sensordata.Request{Types: sensors.Momentary,
			Nodes: []sensordata.NodeRef{{NodeID: sim.NodeMeter}}, UserToken: token})
		if err == nil {
			err = res.Err()
		}
		var names []string
		for _, f := range res.Fields {
			if !slices.Contains(names, f.Name) {
				names = append(names, f.Name)
			}
		}
		return names, err
	}
	if got, err := readout(""); err == nil {
		t.Fatalf("Carol's readout without a token: %v, want refused", got)
	}
	if got, err := readout(aliceTok); err != nil || !slices.Equal(got, []string{"Energy"}) {
		t.Fatalf("Carol's readout with the token: %v, %v; want [Energy]", got, err)
	}

	// Five minutes before the token expires, a new verification (the
	// last one is long stale) holds only until then: once expired, the
	// token is worth nothing.
	later.Store(int64(30*24*time.Hour - 5*time.Minute))
	if got, err := readout(aliceTok); err != nil || !slices.Equal(got, []string{"Energy"}) {
		t.Fatalf("Carol's readout just before expiry: %v, %v; want [Energy]", got, err)
	}
	later.Store(int64(30*24*time.Hour + time.Minute))
	if got, err := readout(aliceTok); err == nil {
		t.Fatalf("Carol's readout with an expired token: %v, want refused", got)
	}
}

func isURLSafe(s string) bool {
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}
