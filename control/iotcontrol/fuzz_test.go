package iotcontrol

import (
	"testing"
)

// FuzzDecode feeds arbitrary XML to every decoder of this package: none
// may panic, and what DecodeSet accepts must survive an encode/decode
// round trip.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`<set xmlns='urn:xmpp:iot:control'><boolean name='Output' value='true'/></set>`,
		`<set xmlns='urn:xmpp:iot:control'><node nodeId='N'/><double name='4-20mA' value='8.192'/><duration name='D' value='PT3M30S'/></set>`,
		`<set xmlns='urn:xmpp:iot:control'><x type='submit' xmlns='jabber:x:data'><field var='A'><value>1</value></field></x></set>`,
		`<getForm xmlns='urn:xmpp:iot:control'><node nodeId='N'/></getForm>`,
		`<setResponse xmlns='urn:xmpp:iot:control' responseCode='NotFound'><node nodeId='N'/><parameter name='P'/><error var='P'>x</error></setResponse>`,
		`<x xmlns='jabber:x:data' type='form'><field var='A' type='text-single'><validate xmlns='http://jabber.org/protocol/xdata-validate' datatype='xs:int'><range min='0' max='9'/></validate></field></x>`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := parse(t, s)
		if err != nil {
			return
		}
		_, _ = DecodeGetForm(e)
		_, _ = DecodeSetResponse(e)
		if form, err := ParseForm(e); err == nil {
			for _, fd := range form.Fields {
				_ = fd.Validate("1")
			}
		}
		set, err := DecodeSet(e)
		if err != nil {
			return
		}
		text, err := parse(t, set.Element().String())
		if err != nil {
			t.Fatalf("encoded set does not parse: %s: %v", set.Element(), err)
		}
		again, err := DecodeSet(text)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", set.Element(), err)
		}
		if len(again.Params) != len(set.Params) || len(again.Nodes) != len(set.Nodes) || len(again.Form) != len(set.Form) {
			t.Fatalf("round trip changed %+v into %+v", set, again)
		}
		for i := range set.Params {
			if again.Params[i] != set.Params[i] {
				t.Fatalf("param %d: %+v became %+v", i, set.Params[i], again.Params[i])
			}
		}
	})
}
