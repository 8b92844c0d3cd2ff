package iotcontrol

import (
	"encoding/xml"
	"strings"
	"testing"

	"github.com/xiot/xiot/control"
	"github.com/xiot/xiot/internal/xmpp"
)

// parse reads one element from XML text.
func parse(t testing.TB, s string) (*xmpp.Element, error) {
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

func mustParse(t *testing.T, s string) *xmpp.Element {
	t.Helper()
	e, err := parse(t, s)
	if err != nil {
		t.Fatalf("parse %s: %v", s, err)
	}
	return e
}

func TestDecodeSetExamples(t *testing.T) {
	// Examples from XEP-0325 v0.5.1 §3.
	tests := []struct {
		xml    string
		nodes  int
		params []Param
		form   int
	}{
		{`<set xmlns='urn:xmpp:iot:control'><boolean name='Output' value='true'/></set>`, 0,
			[]Param{{control.TypeBoolean, "Output", "true"}}, -1},
		{`<set xmlns='urn:xmpp:iot:control'><int name='FadeTimeMilliseconds' value='500'/><int name='OutputPercent' value='10'/></set>`, 0,
			[]Param{{control.TypeInt, "FadeTimeMilliseconds", "500"}, {control.TypeInt, "OutputPercent", "10"}}, -1},
		{`<set xmlns='urn:xmpp:iot:control'><color name='Color' value='3399FF'/><string name='Row1' value=''/></set>`, 0,
			[]Param{{control.TypeColor, "Color", "3399FF"}, {control.TypeString, "Row1", ""}}, -1},
		{`<set xmlns='urn:xmpp:iot:control'><node nodeId='DigitalOutput1'/><node nodeId='DigitalOutput2' sourceId='MeteringTopology'/><boolean name='Output' value='false'/></set>`, 2,
			[]Param{{control.TypeBoolean, "Output", "false"}}, -1},
		{`<set xmlns='urn:xmpp:iot:control' xml:lang='en'><x type='submit' xmlns='jabber:x:data'>
			<field var='xdd session' type='hidden'><value>325ED0F3</value></field>
			<field var='FadeTimeMilliseconds' type='text-single'><value>500</value></field>
			<field var='OutputPercent' type='text-single'><value>10</value></field></x></set>`, 0, nil, 3},
	}
	for _, tt := range tests {
		s, err := DecodeSet(mustParse(t, tt.xml))
		if err != nil {
			t.Errorf("%s: %v", tt.xml, err)
			continue
		}
		if len(s.Nodes) != tt.nodes || len(s.Params) != len(tt.params) || (tt.form < 0) != (s.Form == nil) || (tt.form >= 0 && len(s.Form) != tt.form) {
			t.Errorf("%s: decoded %+v", tt.xml, s)
			continue
		}
		for i, p := range tt.params {
			if s.Params[i] != p {
				t.Errorf("%s: param %d = %+v, want %+v", tt.xml, i, s.Params[i], p)
			}
		}
		// Encoding and decoding again gives the same command.
		again, err := DecodeSet(mustParse(t, s.Element().String()))
		if err != nil || len(again.Params) != len(s.Params) || len(again.Nodes) != len(s.Nodes) || len(again.Form) != len(s.Form) {
			t.Errorf("round trip of %s: %+v, %v", tt.xml, again, err)
		}
	}
}

func TestDecodeSetRejects(t *testing.T) {
	bad := []string{
		`<get xmlns='urn:xmpp:iot:control'/>`,
		`<set xmlns='urn:xmpp:iot:control'><enum name='A' value='x'/></set>`,
		`<set xmlns='urn:xmpp:iot:control'><int value='1'/></set>`,
		`<set xmlns='urn:xmpp:iot:control'><int name='A'/></set>`,
		`<set xmlns='urn:xmpp:iot:control'><node/></set>`,
		`<set xmlns='urn:xmpp:iot:control'><foo xmlns='urn:example'/></set>`,
		`<set xmlns='urn:xmpp:iot:control'><x xmlns='jabber:x:data' type='form'/></set>`,
		`<set xmlns='urn:xmpp:iot:control'><x xmlns='jabber:x:data' type='submit'><field><value>1</value></field></x></set>`,
	}
	for _, b := range bad {
		if s, err := DecodeSet(mustParse(t, b)); err == nil {
			t.Errorf("%s decoded as %+v", b, s)
		}
	}
}

func TestSetResponseForms(t *testing.T) {
	tests := []struct {
		xml    string
		code   string
		nodes  int
		params []string
	}{
		{`<setResponse xmlns='urn:xmpp:iot:control'/>`, "", 0, nil},
		{`<setResponse xmlns='urn:xmpp:iot:control' responseCode='OK'/>`, "OK", 0, nil},
		{`<setResponse xmlns='urn:xmpp:iot:control'><node nodeId='N1'/><parameter name='Output'/></setResponse>`, "", 1, []string{"Output"}},
	}
	for _, tt := range tests {
		r, err := DecodeSetResponse(mustParse(t, tt.xml))
		if err != nil || r.ResponseCode != tt.code || len(r.Nodes) != tt.nodes || strings.Join(r.Params, ",") != strings.Join(tt.params, ",") {
			t.Errorf("%s: %+v, %v", tt.xml, r, err)
		}
	}
}

func TestGetFormNodes(t *testing.T) {
	g, err := DecodeGetForm(mustParse(t, `<getForm xmlns='urn:xmpp:iot:control' xml:lang='en' userToken='u1'><node nodeId='DigitalOutput1'/><node nodeId='DigitalOutput2'/></getForm>`))
	if err != nil || len(g.Nodes) != 2 || g.User != "u1" {
		t.Fatalf("%+v, %v", g, err)
	}
	if _, err := DecodeGetForm(mustParse(t, `<getForm xmlns='urn:xmpp:iot:control'><boolean name='x' value='true'/></getForm>`)); err == nil {
		t.Error("getForm with a parameter decoded")
	}
}
