package xmppschema

import (
	"fmt"
	"strings"
	"testing"
)

func TestSet(t *testing.T) {
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	all := s.All()
	if len(all) < 8 {
		t.Fatalf("only %d schemas embedded", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i-1].NS >= all[i].NS {
			t.Fatalf("not in ascending namespace order: %q before %q", all[i-1].NS, all[i].NS)
		}
	}
	if got, ok := s.Lookup(Schema{NS: all[0].NS, Bytes: all[0].Bytes, MD5: strings.ToUpper(all[0].MD5)}); !ok || got != all[0] {
		t.Fatalf("lookup of %+v: %+v %v", all[0], got, ok)
	}
	if _, ok := s.Lookup(Schema{NS: "jabber:client", Bytes: all[0].Bytes, MD5: all[0].MD5}); ok && all[0].NS != "jabber:client" {
		t.Fatal("lookup matched a schema of another namespace")
	}
	for _, tc := range []struct {
		name string
		list []Schema
		err  string
	}{
		{"all", all, ""},
		{"one", []Schema{all[0]}, ""},
		{"wrong hash", []Schema{{NS: all[0].NS, Bytes: all[0].Bytes, MD5: "00000000000000000000000000000000"}}, "not held"},
		{"wrong size", []Schema{{NS: all[0].NS, Bytes: all[0].Bytes + 1, MD5: all[0].MD5}}, "not held"},
	} {
		g, err := s.Grammars(tc.list)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: got %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || g == nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if again, _ := s.Resolve(ID(tc.list)); again != g {
			t.Errorf("%s: Resolve does not return the cached grammars", tc.name)
		}
	}
	// The ID does not depend on the order of the list; the canonical
	// schema imports in ascending namespace order.
	rev := make([]Schema, len(all))
	for i, sc := range all {
		rev[len(all)-1-i] = sc
	}
	if ID(rev) != ID(all) || string(Canonical(rev)) != string(Canonical(all)) {
		t.Fatal("ID or canonical schema depends on order")
	}
	if !strings.HasPrefix(ID(all), CanonicalNS+":") {
		t.Fatalf("ID %q", ID(all))
	}
	if _, err := s.Resolve("urn:xmpp:exi:cs:unknown"); err == nil {
		t.Fatal("unknown ID resolved")
	}
}

func TestAdd(t *testing.T) {
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	xsd := []byte(`<xs:schema xmlns:xs='http://www.w3.org/2001/XMLSchema' targetNamespace='urn:example:up' elementFormDefault='qualified'><xs:element name='v' type='xs:int'/></xs:schema>`)
	sc, err := s.Add(xsd)
	if err != nil {
		t.Fatal(err)
	}
	if sc.NS != "urn:example:up" || sc.Bytes != len(xsd) || len(sc.MD5) != 32 {
		t.Fatalf("identity %+v", sc)
	}
	if data, ok := s.Data(sc); !ok || string(data) != string(xsd) {
		t.Fatal("uploaded schema not held")
	}
	if _, err := s.Grammars([]Schema{sc}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Add([]byte("not xml")); err == nil {
		t.Fatal("garbage accepted as a schema")
	}
}

// Peers choose what a Set compiles and holds: both stay bounded.
func TestBounds(t *testing.T) {
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for i := range maxUploaded + 1 {
		xsd := fmt.Appendf(nil, "<xs:schema xmlns:xs='http://www.w3.org/2001/XMLSchema' targetNamespace='urn:example:%d'><xs:element name='v'/></xs:schema>", i)
		sc, err := s.Add(xsd)
		if i == maxUploaded {
			if err == nil {
				t.Fatal("upload beyond the bound accepted")
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Grammars([]Schema{sc}); err != nil {
			t.Fatal(err)
		}
		if len(s.cache) > maxCached {
			t.Fatalf("%d compiled schemas cached", len(s.cache))
		}
	}
	if _, err := s.Add(make([]byte, maxUpload+1)); err == nil {
		t.Fatal("oversized upload accepted")
	}
}

func TestSelect(t *testing.T) {
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ns   []string
		want []string // every namespace of the answer, in order
	}{
		{[]string{"urn:xmpp:ping"}, []string{"urn:xmpp:ping"}},
		{[]string{"jabber:client"}, []string{"http://www.w3.org/XML/1998/namespace", "jabber:client"}},
		// control imports sensordata and the three data form schemas
		{[]string{"urn:xmpp:iot:control", "urn:xmpp:iot:control"}, []string{
			"http://jabber.org/protocol/xdata-layout", "http://jabber.org/protocol/xdata-validate",
			"jabber:x:data", "urn:xmpp:iot:control", "urn:xmpp:iot:sensordata"}},
		{nil, nil},
	} {
		got, err := s.Select(tc.ns...)
		if err != nil {
			t.Fatalf("%q: %v", tc.ns, err)
		}
		var names []string
		for _, sc := range got {
			names = append(names, sc.NS)
		}
		if fmt.Sprint(names) != fmt.Sprint(tc.want) {
			t.Errorf("Select(%q) = %q, want %q", tc.ns, names, tc.want)
		}
		if len(got) > 0 {
			if _, err := s.Grammars(got); err != nil {
				t.Errorf("Select(%q): the selection does not compile: %v", tc.ns, err)
			}
		}
	}
	if _, err := s.Select("urn:xmpp:ping", "urn:example:unknown"); err == nil || !strings.Contains(err.Error(), "urn:example:unknown") {
		t.Errorf("unknown namespace: %v", err)
	}
}
