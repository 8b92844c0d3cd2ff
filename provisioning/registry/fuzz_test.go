package registry

import (
	"testing"
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
