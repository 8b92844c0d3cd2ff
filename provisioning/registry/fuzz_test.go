package registry

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/xiot/xiot/internal/xmpp"
)

// FuzzParseRequest checks that ParseRequest never panics, respects its
// bounds, and that Matches never panics on what it accepts.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		`<register xmlns='urn:xmpp:iot:discovery' selfOwned='true' nodeId='n'><str name='SN' value='1'/><num name='V' value='1.2'/><str name='KEY' value='k'/></register>`,
		`<mine xmlns='urn:xmpp:iot:discovery' public='false'><str name='KEY' value='k'/></mine>`,
		`<update xmlns='urn:xmpp:iot:discovery' jid='t@x'><str name='KEY' value=''/><num name='LAT' value='-33.008055'/></update>`,
		`<remove xmlns='urn:xmpp:iot:discovery' jid='t@x' nodeId='n' sourceId='s' cacheType='c'/>`,
		`<disown xmlns='urn:xmpp:iot:discovery' jid='t@x'/>`,
		`<unregister xmlns='urn:xmpp:iot:discovery'/>`,
		`<search xmlns='urn:xmpp:iot:discovery' offset='0' maxCount='20'><strEq name='MAN' value='www.ktc.se'/><strMask name='SN' value='39487*' wildcard='*'/><numRange name='V' min='1' minIncluded='true' max='2' maxIncluded='false'/><strNRange name='A' min='a' max='b'/><numNRange name='B' min='1' max='2'/><numGtEq name='C' value='INF'/></search>`,
		`<rule xmlns='urn:xiot:registry' jid='t@x' requester='b@x' friend='allow' read='deny'><field name='f'/><parameter name='p'/></rule>`,
		`<unrule xmlns='urn:xiot:registry' jid='t@x' requester='b@x'/>`,
		`<rules xmlns='urn:xiot:registry' jid='t@x'/>`,
		`<things xmlns='urn:xiot:registry'/>`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := parseXML(s)
		if err != nil {
			return
		}
		v, err := ParseRequest(e)
		if err != nil {
			return
		}
		var tags []Tag
		switch v := v.(type) {
		case Register:
			tags = v.Tags
		case Mine:
			tags = v.Tags
		case Update:
			tags = v.Tags
		case Search:
			if len(v.Ops) == 0 || len(v.Ops) > MaxOperators || v.Offset < 0 || v.MaxCount < 0 {
				t.Fatalf("search out of bounds: %+v", v)
			}
			Matches(Thing{Tags: []Tag{{Name: "SN", Value: "394872348732948723"}, {Name: "V", Num: 1, Numeric: true}}}, v.Ops)
		}
		if len(tags) > MaxTags {
			t.Fatalf("%d tags accepted", len(tags))
		}
		for _, g := range tags {
			if g.Name == "" || len([]rune(g.Name)) > MaxTagName || len([]rune(g.Value)) > MaxTagValue {
				t.Fatalf("tag out of bounds: %+v", g)
			}
		}
		back, err := ParseThing(ThingElement(NS, Thing{Key: Key{JID: "t@x"}, Owner: "o@x", Tags: tags}))
		if err != nil {
			t.Fatalf("thing with accepted tags does not decode: %v", err)
		}
		_ = back
	})
}

// FuzzRSAKey checks that the certificate of a getToken (attacker input)
// never panics the registry: it is refused with a stanza error or yields
// an RSA key strong enough to encrypt challenges to.
func FuzzRSAKey(f *testing.F) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		f.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<32, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(der)
	f.Add(der[:len(der)/2])
	f.Add([]byte{0x30, 0x82, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		pub, err := rsaKey(b)
		if err != nil {
			var se *xmpp.StanzaError
			if !errors.As(err, &se) {
				t.Fatalf("not a stanza error: %v", err)
			}
			return
		}
		if pub.N.BitLen() < minRSABits {
			t.Fatalf("%d-bit key accepted", pub.N.BitLen())
		}
		if _, _, err := encryptChallenge(pub); err != nil {
			t.Fatalf("accepted key cannot be encrypted to: %v", err)
		}
	})
}
