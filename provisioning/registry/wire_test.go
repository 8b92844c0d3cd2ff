package registry

import (
	"encoding/xml"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/xiot/xiot/internal/xmpp"
)

func parseXML(s string) (*xmpp.Element, error) {
	d := xml.NewDecoder(strings.NewReader(s))
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		if start, ok := tok.(xml.StartElement); ok {
			return xmpp.ReadElement(d, start, xmpp.Limits{MaxDepth: 16})
		}
	}
}

func mustParseXML(t *testing.T, s string) *xmpp.Element {
	t.Helper()
	e, err := parseXML(s)
	if err != nil {
		t.Fatalf("parse %s: %v", s, err)
	}
	return e
}

func TestParseRequest(t *testing.T) {
	tests := []struct {
		name, in string
		want     any
	}{
		{"register", `<register xmlns='urn:xmpp:iot:discovery'><str name='SN' value='394872348732948723'/><str name='man' value='www.ktc.se'/><num name='V' value='1.2'/><str name='KEY' value='4857402340298342'/></register>`,
			Register{Tags: []Tag{{Name: "KEY", Value: "4857402340298342"}, {Name: "MAN", Value: "www.ktc.se"}, {Name: "SN", Value: "394872348732948723"}, {Name: "V", Num: 1.2, Numeric: true}}}},
		{"register self-owned behind concentrator", `<register xmlns='urn:xmpp:iot:discovery' selfOwned='true' nodeId='imc1' sourceId='MeteringTopology'><str name='SN' value='1'/></register>`,
			Register{Node: NodeInfo{NodeID: "imc1", SourceID: "MeteringTopology"}, SelfOwned: true, Tags: []Tag{{Name: "SN", Value: "1"}}}},
		{"private claim", `<mine xmlns='urn:xmpp:iot:discovery' public='false'><str name='KEY' value='k'/></mine>`,
			Mine{Tags: []Tag{{Name: "KEY", Value: "k"}}}},
		{"public claim", `<mine xmlns='urn:xmpp:iot:discovery'><str name='KEY' value='k'/></mine>`,
			Mine{Tags: []Tag{{Name: "KEY", Value: "k"}}, Public: true}},
		{"owner update", `<update xmlns='urn:xmpp:iot:discovery' jid='thing@example.org'><str name='KEY' value=''/></update>`,
			Update{JID: "thing@example.org", Tags: []Tag{{Name: "KEY"}}}},
		{"remove", `<remove xmlns='urn:xmpp:iot:discovery' jid='rack@example.org/plcs' nodeId='imc1'/>`,
			Remove{JID: "rack@example.org/plcs", Node: NodeInfo{NodeID: "imc1"}}},
		{"disown", `<disown xmlns='urn:xmpp:iot:discovery' jid='t@x'/>`, Disown{JID: "t@x"}},
		{"unregister", `<unregister xmlns='urn:xmpp:iot:discovery'/>`, Unregister{}},
		{"search", `<search xmlns='urn:xmpp:iot:discovery' offset='2' maxCount='20'><strMask name='SN' value='39487*' wildcard='*'/><numRange name='V' min='1' minIncluded='true' max='2' maxIncluded='false'/><strNRange name='a' min='b' max='c'/></search>`,
			Search{Offset: 2, MaxCount: 20, Ops: []Operator{
				{Op: "strMask", Name: "SN", Value: "39487*", Wildcard: "*"},
				{Op: "numRange", Name: "V", MinNum: 1, MaxNum: 2, MinIncluded: true},
				{Op: "strNRange", Name: "A", Min: "b", Max: "c", MinIncluded: true, MaxIncluded: true}}}},
		{"rule", `<rule xmlns='urn:xiot:registry' jid='t@x' requester='bob@x' friend='allow' read='allow' control='deny'><field name='temp'/><parameter name='relay'/></rule>`,
			RuleSet{Rule: Rule{Thing: Key{JID: "t@x"}, Requester: "bob@x", Friend: Allow, Read: Allow, Control: Deny, Fields: []string{"temp"}, Params: []string{"relay"}}}},
		{"things", `<things xmlns='urn:xiot:registry'/>`, ThingsQuery{}},

		{"tag name with colon", `<register xmlns='urn:xmpp:iot:discovery'><str name='A:B' value='1'/></register>`, nil},
		{"tag name too long", `<register xmlns='urn:xmpp:iot:discovery'><str name='` + strings.Repeat("A", 33) + `' value='1'/></register>`, nil},
		{"value too long", `<register xmlns='urn:xmpp:iot:discovery'><str name='A' value='` + strings.Repeat("v", 129) + `'/></register>`, nil},
		{"tag twice, any case", `<register xmlns='urn:xmpp:iot:discovery'><str name='a' value='1'/><str name='A' value='2'/></register>`, nil},
		{"number not finite", `<register xmlns='urn:xmpp:iot:discovery'><num name='A' value='NaN'/></register>`, nil},
		{"tag without value", `<register xmlns='urn:xmpp:iot:discovery'><str name='A'/></register>`, nil},
		{"empty claim", `<mine xmlns='urn:xmpp:iot:discovery'/>`, nil},
		{"remove without jid", `<remove xmlns='urn:xmpp:iot:discovery'/>`, nil},
		{"search without operator", `<search xmlns='urn:xmpp:iot:discovery'/>`, nil},
		{"unknown operator", `<search xmlns='urn:xmpp:iot:discovery'><strLike name='A' value='x'/></search>`, nil},
		{"mask without wildcard", `<search xmlns='urn:xmpp:iot:discovery'><strMask name='A' value='x*'/></search>`, nil},
		{"range without max", `<search xmlns='urn:xmpp:iot:discovery'><numRange name='A' min='1'/></search>`, nil},
		{"negative offset", `<search xmlns='urn:xmpp:iot:discovery' offset='-1'><strEq name='A' value='x'/></search>`, nil},
		{"bad decision", `<rule xmlns='urn:xiot:registry' jid='t@x' requester='b@x' read='maybe'/>`, nil},
		{"other namespace", `<register xmlns='urn:example'/>`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRequest(mustParseXML(t, tt.in))
			if tt.want == nil {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("got %#v, %v; want ErrMalformed", got, err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v, %v\nwant %#v", got, err, tt.want)
			}
		})
	}
}

func TestThingElementHidesKey(t *testing.T) {
	th := Thing{Key: Key{JID: "t@x", NodeID: "n"}, Owner: "o@x", Tags: []Tag{{Name: "KEY", Value: "secret"}, {Name: "E", Value: ""}, {Name: "V", Num: -71.5, Numeric: true}}}
	e := ThingElement(NS, th)
	if s := e.String(); strings.Contains(s, "secret") || strings.Contains(s, "KEY") {
		t.Fatalf("thing element shows KEY: %s", s)
	}
	back, err := ParseThing(e)
	if err != nil {
		t.Fatal(err)
	}
	want := Thing{Key: th.Key, Owner: "o@x", Public: true, Tags: th.Tags[1:]}
	if !reflect.DeepEqual(back, want) {
		t.Fatalf("round trip %#v\nwant %#v", back, want)
	}
}

func TestRuleElementRoundTrip(t *testing.T) {
	r := Rule{Thing: Key{JID: "t@x", NodeID: "n1", SourceID: "s"}, Requester: "example.org", Read: Allow, Fields: []string{"a", "b"}, Control: Deny}
	got, err := ParseRule(RuleElement(r))
	if err != nil || !reflect.DeepEqual(got, r) {
		t.Fatalf("got %#v, %v\nwant %#v", got, err, r)
	}
}
