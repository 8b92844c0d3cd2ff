package provisioning

import (
	"bytes"
	"encoding/xml"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/sensors"
)

// parseXML reads one element from s.
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

// TestParseXEPExamples decodes the examples of XEP-0324 v0.5.1, verbatim
// but for the enclosing stanza.
func TestParseXEPExamples(t *testing.T) {
	tests := []struct {
		name string
		xml  string
		want any
	}{
		{"isFriend", `<isFriend xmlns='urn:xmpp:iot:provisioning' jid='client1@example.org'/>`, IsFriend{JID: "client1@example.org"}},
		{"isFriendResponse true", `<isFriendResponse xmlns='urn:xmpp:iot:provisioning' jid='client1@example.org' result='true'/>`,
			IsFriendResponse{JID: "client1@example.org", Result: true}},
		{"isFriendResponse false", `<isFriendResponse xmlns='urn:xmpp:iot:provisioning' jid='client2@example.org' result='false'/>`,
			IsFriendResponse{JID: "client2@example.org"}},
		{"isFriendResponse secondary trust", `<isFriendResponse xmlns='urn:xmpp:iot:provisioning' jid='c@example.org' result='1' secondaryTrustAllowed='true'/>`,
			IsFriendResponse{JID: "c@example.org", Result: true, SecondaryTrustAllowed: true}},
		{"unfriend", `<unfriend xmlns='urn:xmpp:iot:provisioning' jid='client2@example.org'/>`, Unfriend{JID: "client2@example.org"}},
		{"friend", `<friend xmlns='urn:xmpp:iot:provisioning' jid='client2@example.org'/>`, Friend{JID: "client2@example.org"}},
		{"Friend (2013)", `<Friend xmlns='urn:xmpp:iot:provisioning' jid='client2@example.org'/>`, Friend{JID: "client2@example.org"}},
		{"canRead tokens", `<canRead xmlns='urn:xmpp:iot:provisioning' jid='primary@example.org' serviceToken='SERVICETOKEN1 SERVICETOKEN2' userToken='USERTOKEN1' momentary='true'/>`,
			CanRead{JID: "primary@example.org", Types: sensors.Momentary, Tokens: Tokens{Service: "SERVICETOKEN1 SERVICETOKEN2", User: "USERTOKEN1"}}},
		{"canRead nodes", `<canRead xmlns='urn:xmpp:iot:provisioning' jid='primary@example.org' momentary='true' serviceToken='SERVICETOKEN1' userToken='USERTOKEN1'>
    <node nodeId='Device02'/>
    <node nodeId='Device03'/>
  </canRead>`,
			CanRead{JID: "primary@example.org", Types: sensors.Momentary, Nodes: []NodeRef{{NodeID: "Device02"}, {NodeID: "Device03"}}, Tokens: Tokens{Service: "SERVICETOKEN1", User: "USERTOKEN1"}}},
		{"canRead all, historical, subsystem node, field", `<canRead xmlns='urn:xmpp:iot:provisioning' jid='a@b' all='false' historical='true' peak='1' deviceToken='D'><node nodeId='N' sourceId='S' cacheType='C'/><field name='Energy'/></canRead>`,
			CanRead{JID: "a@b", Types: sensors.Historical | sensors.Peak, Nodes: []NodeRef{{"N", "S", "C"}}, Fields: []string{"Energy"}, Tokens: Tokens{Device: "D"}}},
		{"canReadResponse false", `<canReadResponse xmlns='urn:xmpp:iot:provisioning' jid='primary@example.org' momentary='true' result='false'/>`,
			CanReadResponse{JID: "primary@example.org", Types: sensors.Momentary}},
		{"canReadResponse nodes", `<canReadResponse xmlns='urn:xmpp:iot:provisioning' jid='primary@example.org' momentary='true' result='true'>
    <node nodeId='Device02'/>
  </canReadResponse>`,
			CanReadResponse{JID: "primary@example.org", Result: true, Types: sensors.Momentary, Nodes: []NodeRef{{NodeID: "Device02"}}}},
		{"canReadResponse fields", `<canReadResponse xmlns='urn:xmpp:iot:provisioning' jid='primary@example.org' momentary='true' result='true'>
    <field name='Energy'/>
    <field name='Power'/>
  </canReadResponse>`,
			CanReadResponse{JID: "primary@example.org", Result: true, Types: sensors.Momentary, Fields: []string{"Energy", "Power"}}},
		{"canControl", `<canControl xmlns='urn:xmpp:iot:provisioning' jid='primary@example.org' serviceToken='SERVICETOKEN1' userToken='USERTOKEN1'>
    <parameter name='Output'/>
  </canControl>`,
			CanControl{JID: "primary@example.org", Params: []string{"Output"}, Tokens: Tokens{Service: "SERVICETOKEN1", User: "USERTOKEN1"}}},
		{"canControl nodes", `<canControl xmlns='urn:xmpp:iot:provisioning' jid='primary@example.org' serviceToken='SERVICETOKEN1' userToken='USERTOKEN1'>
    <node nodeId='DigitalOutput1'/>
    <node nodeId='DigitalOutput2'/>
    <parameter name='Output'/>
  </canControl>`,
			CanControl{JID: "primary@example.org", Nodes: []NodeRef{{NodeID: "DigitalOutput1"}, {NodeID: "DigitalOutput2"}}, Params: []string{"Output"}, Tokens: Tokens{Service: "SERVICETOKEN1", User: "USERTOKEN1"}}},
		{"canControlResponse false", `<canControlResponse xmlns='urn:xmpp:iot:provisioning' jid='primary@example.org' result='false'/>`,
			CanControlResponse{JID: "primary@example.org"}},
		{"canControlResponse nodes", `<canControlResponse xmlns='urn:xmpp:iot:provisioning' jid='primary@example.org' result='true'>
    <node nodeId='DigitalOutput2'/>
    <node nodeId='DigitalOutput3'/>
  </canControlResponse>`,
			CanControlResponse{JID: "primary@example.org", Result: true, Nodes: []NodeRef{{NodeID: "DigitalOutput2"}, {NodeID: "DigitalOutput3"}}}},
		{"canControlResponse parameters", `<canControlResponse xmlns='urn:xmpp:iot:provisioning' jid='primary@example.org' result='true'>
    <parameter name='DigitalOutput1'/>
    <parameter name='DigitalOutput2'/>
  </canControlResponse>`,
			CanControlResponse{JID: "primary@example.org", Result: true, Params: []string{"DigitalOutput1", "DigitalOutput2"}}},
		{"clearCache", `<clearCache xmlns='urn:xmpp:iot:provisioning'/>`, ClearCache{}},
		{"clearCacheResponse", `<clearCacheResponse xmlns='urn:xmpp:iot:provisioning'/>`, ClearCacheResponse{}},
		{"getToken", `<getToken xmlns='urn:xmpp:iot:provisioning'>AQID
BA==</getToken>`, GetToken{Certificate: []byte{1, 2, 3, 4}}},
		{"getTokenChallenge", `<getTokenChallenge xmlns='urn:xmpp:iot:provisioning' seqnr='1'>BQY=</getTokenChallenge>`, GetTokenChallenge{SeqNr: 1, Challenge: []byte{5, 6}}},
		{"getTokenChallengeResponse", `<getTokenChallengeResponse xmlns='urn:xmpp:iot:provisioning' seqnr='1'>Bwg=</getTokenChallengeResponse>`,
			GetTokenChallengeResponse{SeqNr: 1, Response: []byte{7, 8}}},
		{"getTokenResponse", `<getTokenResponse xmlns='urn:xmpp:iot:provisioning' token='TOKEN'/>`, GetTokenResponse{Token: "TOKEN"}},
		{"tokenChallenge", `<tokenChallenge xmlns='urn:xmpp:iot:provisioning' token='TOKEN'>CQo=</tokenChallenge>`, TokenChallenge{Token: "TOKEN", Challenge: []byte{9, 10}}},
		{"tokenChallengeResponse", `<tokenChallengeResponse xmlns='urn:xmpp:iot:provisioning'>Cww=</tokenChallengeResponse>`, TokenChallengeResponse{Response: []byte{11, 12}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(mustParseXML(t, tt.xml))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v\nwant %#v", got, tt.want)
			}
			roundTrip(t, got)
		})
	}
}

// roundTrip checks that v encodes to an element that decodes to v, also
// after serialising it as text.
func roundTrip(t *testing.T, v any) {
	t.Helper()
	enc, ok := v.(interface{ Element() *xmpp.Element })
	if !ok {
		t.Fatalf("%T has no Element method", v)
	}
	var b bytes.Buffer
	enc.Element().WriteXML(&b, xmpp.NSClient)
	e, err := parseXML(b.String())
	if err != nil {
		t.Fatalf("re-parse %s: %v", b.String(), err)
	}
	back, err := Parse(e)
	if err != nil {
		t.Fatalf("decode %s: %v", b.String(), err)
	}
	if !reflect.DeepEqual(back, v) {
		t.Fatalf("round trip through %s:\ngot  %#v\nwant %#v", b.String(), back, v)
	}
}

// TestEncode checks the exact XML written for the questions and answers.
func TestEncode(t *testing.T) {
	tests := []struct {
		v    interface{ Element() *xmpp.Element }
		want string
	}{
		{IsFriend{JID: "client1@example.org"}, `<isFriend xmlns="urn:xmpp:iot:provisioning" jid="client1@example.org"/>`},
		{IsFriendResponse{JID: "c@x", Result: true, SecondaryTrustAllowed: true}, `<isFriendResponse xmlns="urn:xmpp:iot:provisioning" jid="c@x" result="true" secondaryTrustAllowed="true"/>`},
		{IsFriendResponse{JID: "c@x"}, `<isFriendResponse xmlns="urn:xmpp:iot:provisioning" jid="c@x" result="false"/>`},
		{Friend{JID: "c@x"}, `<friend xmlns="urn:xmpp:iot:provisioning" jid="c@x"/>`},
		{Unfriend{JID: "c@x"}, `<unfriend xmlns="urn:xmpp:iot:provisioning" jid="c@x"/>`},
		{CanRead{JID: "p@x", Types: sensors.Momentary, Tokens: Tokens{Service: "S1 S2", User: "U"}, Nodes: []NodeRef{{NodeID: "D2"}}, Fields: []string{"Energy"}},
			`<canRead xmlns="urn:xmpp:iot:provisioning" jid="p@x" momentary="true" serviceToken="S1 S2" userToken="U"><node nodeId="D2"/><field name="Energy"/></canRead>`},
		{CanRead{JID: "p@x", Types: sensors.AllTypes}, `<canRead xmlns="urn:xmpp:iot:provisioning" jid="p@x" all="true"/>`},
		{CanRead{JID: "p@x", Types: sensors.Historical | sensors.Status}, `<canRead xmlns="urn:xmpp:iot:provisioning" jid="p@x" historical="true" status="true"/>`},
		{CanReadResponse{JID: "p@x", Result: true, Types: sensors.Momentary, Fields: []string{"Energy", "Power"}},
			`<canReadResponse xmlns="urn:xmpp:iot:provisioning" jid="p@x" momentary="true" result="true"><field name="Energy"/><field name="Power"/></canReadResponse>`},
		{CanControl{JID: "p@x", Tokens: Tokens{Device: "D"}, Nodes: []NodeRef{{"N", "S", "C"}}, Params: []string{"Output"}},
			`<canControl xmlns="urn:xmpp:iot:provisioning" jid="p@x" deviceToken="D"><node nodeId="N" sourceId="S" cacheType="C"/><parameter name="Output"/></canControl>`},
		{CanControlResponse{JID: "p@x"}, `<canControlResponse xmlns="urn:xmpp:iot:provisioning" jid="p@x" result="false"/>`},
		{ClearCache{}, `<clearCache xmlns="urn:xmpp:iot:provisioning"/>`},
		{ClearCacheResponse{}, `<clearCacheResponse xmlns="urn:xmpp:iot:provisioning"/>`},
		{GetToken{Certificate: []byte{1, 2, 3, 4}}, `<getToken xmlns="urn:xmpp:iot:provisioning">AQIDBA==</getToken>`},
		{GetTokenChallenge{SeqNr: 1, Challenge: []byte{5, 6}}, `<getTokenChallenge xmlns="urn:xmpp:iot:provisioning" seqnr="1">BQY=</getTokenChallenge>`},
		{GetTokenChallengeResponse{SeqNr: -2, Response: []byte{7}}, `<getTokenChallengeResponse xmlns="urn:xmpp:iot:provisioning" seqnr="-2">Bw==</getTokenChallengeResponse>`},
		{GetTokenResponse{Token: "T"}, `<getTokenResponse xmlns="urn:xmpp:iot:provisioning" token="T"/>`},
		{TokenChallenge{Token: "T", Challenge: []byte{9}}, `<tokenChallenge xmlns="urn:xmpp:iot:provisioning" token="T">CQ==</tokenChallenge>`},
		{TokenChallengeResponse{Response: []byte{11}}, `<tokenChallengeResponse xmlns="urn:xmpp:iot:provisioning">Cw==</tokenChallengeResponse>`},
	}
	for _, tt := range tests {
		if got := tt.v.Element().String(); got != tt.want {
			t.Errorf("%T:\ngot  %s\nwant %s", tt.v, got, tt.want)
		}
		roundTrip(t, tt.v)
	}
}

func TestParseMalformed(t *testing.T) {
	tests := []string{
		`<isFriend xmlns='urn:xmpp:iot:provisioning'/>`,
		`<isFriend xmlns='urn:xmpp:iot:sensordata' jid='a@b'/>`,
		`<isFriendResponse xmlns='urn:xmpp:iot:provisioning' jid='a@b'/>`,
		`<isFriendResponse xmlns='urn:xmpp:iot:provisioning' jid='a@b' result='yes'/>`,
		`<isFriendResponse xmlns='urn:xmpp:iot:provisioning' jid='a@b' result='true' secondaryTrustAllowed='maybe'/>`,
		`<friend xmlns='urn:xmpp:iot:provisioning'/>`,
		`<unfriend xmlns='urn:xmpp:iot:provisioning'/>`,
		`<canRead xmlns='urn:xmpp:iot:provisioning'/>`,
		`<canRead xmlns='urn:xmpp:iot:provisioning' jid='a@b' momentary='x'/>`,
		`<canRead xmlns='urn:xmpp:iot:provisioning' jid='a@b'><node/></canRead>`,
		`<canRead xmlns='urn:xmpp:iot:provisioning' jid='a@b'><field/></canRead>`,
		`<canReadResponse xmlns='urn:xmpp:iot:provisioning' jid='a@b'/>`,
		`<canReadResponse xmlns='urn:xmpp:iot:provisioning' jid='a@b' result='true'><node sourceId='s'/></canReadResponse>`,
		`<canControl xmlns='urn:xmpp:iot:provisioning' jid='a@b'><parameter/></canControl>`,
		`<canControlResponse xmlns='urn:xmpp:iot:provisioning' result='true'/>`,
		`<canControlResponse xmlns='urn:xmpp:iot:provisioning' jid='a@b' result='true'><node/></canControlResponse>`,
		`<getToken xmlns='urn:xmpp:iot:provisioning'>not base64!</getToken>`,
		`<getTokenChallenge xmlns='urn:xmpp:iot:provisioning'>AQ==</getTokenChallenge>`,
		`<getTokenChallenge xmlns='urn:xmpp:iot:provisioning' seqnr='99999999999'>AQ==</getTokenChallenge>`,
		`<getTokenChallengeResponse xmlns='urn:xmpp:iot:provisioning' seqnr='x'/>`,
		`<getTokenResponse xmlns='urn:xmpp:iot:provisioning'/>`,
		`<tokenChallenge xmlns='urn:xmpp:iot:provisioning'>AQ==</tokenChallenge>`,
		`<tokenChallengeResponse xmlns='urn:xmpp:iot:provisioning'>%%%</tokenChallengeResponse>`,
		`<canAccess xmlns='urn:xmpp:iot:provisioning' serviceToken='S'/>`,
	}
	for _, s := range tests {
		if v, err := Parse(mustParseXML(t, s)); !errors.Is(err, ErrMalformed) {
			t.Errorf("Parse(%s) = %#v, %v; want ErrMalformed", s, v, err)
		}
	}
	if _, err := Parse(nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("Parse(nil): %v", err)
	}
}

func TestTokensList(t *testing.T) {
	tok := Tokens{Service: "S1  S2", Device: "", User: " U1 "}
	if got, want := tok.List(), []string{"S1", "S2", "U1"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("List = %q, want %q", got, want)
	}
	if tok.IsZero() || !(Tokens{}).IsZero() {
		t.Fatal("IsZero")
	}
}
