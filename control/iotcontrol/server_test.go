package iotcontrol

import (
	"context"
	"errors"
	"testing"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/control"
)

func testController(t testing.TB) *control.Controller {
	t.Helper()
	v := func(node, name string, typ control.Type, initial control.Value, min, max control.Value) control.Point {
		return control.Point{Param: control.Param{Node: node, Name: name, Type: typ, Min: min, Max: max},
			Output: control.NewVirtual(name, typ, nil), Initial: initial}
	}
	c, err := control.New([]control.Point{
		v("", "Level", control.TypeInt, control.Int(0), control.Int(0), control.Int(10)),
		v("", "On", control.TypeBoolean, control.Bool(false), control.Value{}, control.Value{}),
		v("a", "Mode", control.TypeString, control.String("x"), control.Value{}, control.Int(3)),
		v("b", "Mode", control.TypeString, control.String("x"), control.Value{}, control.Int(3)),
	}, control.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestApply(t *testing.T) {
	from := jid.MustParse("op@example.org/x")
	tests := []struct {
		xml, cond string
		params    []ParamError
	}{
		{`<set xmlns='urn:xmpp:iot:control'><int name='Level' value='5'/></set>`, "", nil},
		{`<set xmlns='urn:xmpp:iot:control'/>`, "", nil},
		{`<set xmlns='urn:xmpp:iot:control'><enum name='Level' value='5'/></set>`, "bad-request", nil},
		{`<set xmlns='urn:xmpp:iot:control'><int name='Level' value='50'/><boolean name='On' value='yes'/></set>`, "bad-request",
			[]ParamError{{"Level", TextWrongValue}, {"On", TextWrongValue}}},
		{`<set xmlns='urn:xmpp:iot:control'><node nodeId='c'/><string name='Mode' value='y'/></set>`, "item-not-found", nil},
		{`<set xmlns='urn:xmpp:iot:control'><node nodeId='a'/><int name='Level' value='1'/></set>`, "item-not-found",
			[]ParamError{{"Level", TextNotFound}}},
		{`<set xmlns='urn:xmpp:iot:control'><string name='Mode' value='long'/></set>`, "bad-request",
			[]ParamError{{"Mode", TextWrongValue}}},
		{`<set xmlns='urn:xmpp:iot:control'><duration name='OverrideDuration' value='PT1M'/></set>`, "bad-request", nil},
		{`<set xmlns='urn:xmpp:iot:control'><int name='Level' value='1'/><duration name='OverrideDuration' value='-PT1M'/></set>`, "bad-request",
			[]ParamError{{"OverrideDuration", TextWrongValue}}},
	}
	for _, tt := range tests {
		c := testController(t)
		s := NewServer(c, ServerOptions{})
		_, err := s.Apply(context.Background(), from, "iq", mustParse(t, tt.xml))
		var f *Fault
		switch {
		case tt.cond == "" && err != nil:
			t.Errorf("%s: %v", tt.xml, err)
		case tt.cond != "" && (!errors.As(err, &f) || f.Condition != tt.cond):
			t.Errorf("%s: %v, want %s", tt.xml, err, tt.cond)
		case tt.params != nil && len(f.Params) != len(tt.params):
			t.Errorf("%s: paramErrors %+v, want %+v", tt.xml, f.Params, tt.params)
		case tt.params != nil:
			for i := range tt.params {
				if f.Params[i] != tt.params[i] {
					t.Errorf("%s: paramErrors %+v, want %+v", tt.xml, f.Params, tt.params)
				}
			}
		}
		if tt.cond != "" {
			if v, _ := c.Get("", "Level"); !v.Equal(control.Int(0)) {
				t.Errorf("%s: refused set changed Level to %s", tt.xml, v)
			}
		}
	}
}

// FuzzApply runs arbitrary set elements through the Server: no panic, and
// whatever it accepts leaves every parameter within its bounds.
func FuzzApply(f *testing.F) {
	for _, s := range []string{
		`<set xmlns='urn:xmpp:iot:control'><int name='Level' value='5'/></set>`,
		`<set xmlns='urn:xmpp:iot:control'><node nodeId='a'/><node nodeId='b'/><string name='Mode' value='ab'/></set>`,
		`<set xmlns='urn:xmpp:iot:control'><x xmlns='jabber:x:data' type='submit'><field var='Level'><value>3</value></field><field var='OverrideDuration'><value>PT5S</value></field></x></set>`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := parse(t, s)
		if err != nil {
			return
		}
		c := testController(t)
		srv := NewServer(c, ServerOptions{})
		_, _ = srv.Apply(context.Background(), jid.JID{}, "iq", e)
		for _, p := range c.Params() {
			v, _ := c.Get(p.Node, p.Name)
			if err := p.Check(v); err != nil {
				t.Fatalf("after %s: %v", s, err)
			}
		}
	})
}
