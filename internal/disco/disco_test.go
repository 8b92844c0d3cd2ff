package disco

import (
	"testing"

	"github.com/xiot/xiot/internal/xmpp"
)

// The worked example of XEP-0115 §5.2 (simple generation).
func TestVerSimpleExample(t *testing.T) {
	info := &Info{
		Identities: []Identity{{Category: "client", Type: "pc", Name: "Exodus 0.9.1"}},
		Features: []string{
			"http://jabber.org/protocol/disco#info",
			"http://jabber.org/protocol/disco#items",
			"http://jabber.org/protocol/muc",
			"http://jabber.org/protocol/caps",
		},
	}
	wantS := "client/pc//Exodus 0.9.1<http://jabber.org/protocol/caps<http://jabber.org/protocol/disco#info<http://jabber.org/protocol/disco#items<http://jabber.org/protocol/muc<"
	if got := VerString(info); got != wantS {
		t.Fatalf("S = %q, want %q", got, wantS)
	}
	if got, want := Ver(info), "QgayPKawpkPSDYmwT/WM94uAlu0="; got != want {
		t.Fatalf("ver = %s, want %s", got, want)
	}
}

// The worked example of XEP-0115 §5.3 (complex generation, with an
// extended-info form and localized identities).
func TestVerComplexExample(t *testing.T) {
	field := func(v string, vals ...string) *xmpp.Element {
		f := xmpp.NewElement(NSData, "field", "var", v)
		for _, x := range vals {
			f.Add(xmpp.NewElement(NSData, "value").AddText(x))
		}
		return f
	}
	form := xmpp.NewElement(NSData, "x", "type", "result").Add(
		field("FORM_TYPE", "urn:xmpp:dataforms:softwareinfo"),
		field("ip_version", "ipv4", "ipv6"),
		field("os", "Mac"),
		field("os_version", "10.5.1"),
		field("software", "Psi"),
		field("software_version", "0.11"),
	)
	info := &Info{
		Identities: []Identity{
			{Category: "client", Type: "pc", Name: "Psi 0.11", Lang: "en"},
			{Category: "client", Type: "pc", Name: "Ψ 0.11", Lang: "el"},
		},
		Features: []string{
			"http://jabber.org/protocol/disco#items",
			"http://jabber.org/protocol/caps",
			"http://jabber.org/protocol/disco#info",
			"http://jabber.org/protocol/muc",
		},
		Forms: []*xmpp.Element{form},
	}
	if got, want := Ver(info), "q07IKJEyjvHSyhy//CH0CxmKi8w="; got != want {
		t.Fatalf("ver = %s, want %s\nS = %s", got, want, VerString(info))
	}
	// Round trip through the wire form keeps the hash.
	back := ParseInfo(info.Element(""))
	if Ver(back) != Ver(info) {
		t.Fatalf("hash changed through Element/ParseInfo: %s", VerString(back))
	}
}
