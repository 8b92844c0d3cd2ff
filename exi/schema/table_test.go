package schema

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func codeString(c Code) string {
	parts := make([]string, c.Len)
	for i := 0; i < c.Len; i++ {
		parts[i] = fmt.Sprintf("%d/%d", c.Parts[i], c.Sizes[i])
	}
	name := ""
	if c.Name != (QName{}) {
		name = "(" + c.Name.String() + ")"
	}
	return c.Event.String() + name + "=" + strings.Join(parts, ".")
}

// TestTable checks the undeclared productions of §8.5.4.4.1 on the
// ProductType start non-terminal (hand-derived).
func TestTable(t *testing.T) {
	g, err := Compile("testdata/product.xsd")
	if err != nil {
		t.Fatal(err)
	}
	gi := g.Types[g.GlobalTypes[QName{"", "ProductType"}]].Grammar
	tests := []struct {
		name     string
		nt       int
		nillable bool
		o        Options
		want     string
	}{
		{"non-strict start", 0, false, Options{},
			"AT(color)=0/3 AT(sku)=1/3 EE=2/3.0/7 AT(xsi:type)=2/3.1/7 AT(xsi:nil)=2/3.2/7 AT(*)=2/3.3/7 " +
				"AT[untyped](color)=2/3.4/7.0/3 AT[untyped](sku)=2/3.4/7.1/3 AT(*)[untyped]=2/3.4/7.2/3 " +
				"SE(*)=2/3.5/7 CH[untyped]=2/3.6/7"},
		{"strict nillable", 0, true, Options{Strict: true},
			"AT(color)=0/3 AT(sku)=1/3 AT(xsi:nil)=2/3.0/1"},
		{"strict plain", 0, false, Options{Strict: true}, "AT(color)=0/2 AT(sku)=1/2"},
		{"non-strict content with comments", 5, false, Options{PreserveComments: true, PreservePIs: true},
			"SE(description)=0/4 SE(quantity)=1/4 EE=2/4 SE(*)=3/4.0/3 CH[untyped]=3/4.1/3 CM=3/4.2/3.0/2 PI=3/4.2/3.1/2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nt := tt.nt
			if nt == 5 { // state 5 of the rendered grammar: find it by its productions
				nt = findNT(g, gi, "SE(description) SE(quantity) EE")
			}
			tab, err := g.Table(gi, nt, tt.nillable, false, tt.o)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range tab.Codes {
				got = append(got, codeString(c))
			}
			if s := strings.Join(got, " "); s != tt.want {
				t.Errorf("got  %s\nwant %s", s, tt.want)
			}
		})
	}
	if _, err := g.Table(len(g.Grammars), 0, false, false, Options{}); err == nil {
		t.Error("out-of-range grammar accepted")
	}
}

func findNT(g *Grammars, gi int, sig string) int {
	for i, nt := range g.Grammars[gi].NonTerminals {
		var s []string
		for _, p := range nt.Productions {
			e := p.Event.String()
			if p.Event == EventSE {
				e += "(" + p.Name.Local + ")"
			}
			s = append(s, e)
		}
		if strings.Join(s, " ") == sig && !nt.StartTag {
			return i
		}
	}
	return -1
}

// TestMarshalRoundTrip serialises compiled grammars and reads them back.
func TestMarshalRoundTrip(t *testing.T) {
	files := []string{"testdata/product.xsd"}
	if _, err := os.Stat(vectors); err == nil {
		files = append(files, filepath.Join(vectors, "schemas/xiot.xsd"))
	}
	for _, f := range files {
		g, err := Compile(f)
		if err != nil {
			t.Fatal(err)
		}
		b, err := g.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var h Grammars
		if err := h.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		b2, err := h.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != len(b2) {
			t.Errorf("%s: re-marshalled size %d != %d", f, len(b2), len(b))
		}
		for gi := range g.Grammars {
			if render(g, gi) != render(&h, gi) {
				t.Fatalf("%s: grammar %d differs after round trip", f, gi)
			}
		}
		t.Logf("%s: %d bytes, %d grammars, %d elements, %d datatypes", f, len(b), len(g.Grammars), len(g.Elements), len(g.Datatypes))
	}
	var h Grammars
	if err := h.UnmarshalBinary([]byte("garbage")); err == nil {
		t.Error("garbage accepted")
	}
}

func TestBuiltinTypes(t *testing.T) {
	g := BuiltinTypes()
	if len(g.Elements) != 0 {
		t.Errorf("xsd-types-only grammars have %d elements", len(g.Elements))
	}
	want := map[string]Representation{"int": RepInteger, "unsignedByte": RepNBitInteger, "byte": RepNBitInteger,
		"unsignedLong": RepUnsignedInteger, "double": RepFloat, "date": RepDateTime, "hexBinary": RepBinaryHex,
		"NMTOKENS": RepList, "duration": RepString, "QName": RepString, "boolean": RepBoolean, "decimal": RepDecimal}
	for name, rep := range want {
		ti, ok := g.GlobalTypes[QName{NSXSD, name}]
		if !ok {
			t.Errorf("xs:%s missing", name)
			continue
		}
		if got := g.Datatypes[g.Types[ti].Simple].Rep; got != rep {
			t.Errorf("xs:%s: %v, want %v", name, got, rep)
		}
	}
	if u := g.Strings.URIs; len(u) != 4 || len(u[3].LocalNames) != 46 {
		t.Errorf("string table: %d URIs", len(u))
	}
	if !g.Types[g.GlobalTypes[QName{NSXSD, "string"}]].TypeCastable {
		t.Error("xs:string has named sub-types but is not type-castable")
	}
}

// FuzzLoad feeds hostile XSD to the loader: it must return, not hang or
// panic. Imports point at the fuzzed document itself (circular).
func FuzzLoad(f *testing.F) {
	seed, _ := os.ReadFile("testdata/product.xsd")
	f.Add(seed)
	f.Add([]byte(`<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:import schemaLocation="a.xsd"/>` +
		`<xs:element name="r"><xs:complexType><xs:sequence minOccurs="100" maxOccurs="100000"><xs:element ref="r"/>` +
		`</xs:sequence></xs:complexType></xs:element><xs:group name="g"><xs:sequence><xs:group ref="g"/></xs:sequence></xs:group></xs:schema>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		read := func(string) ([]byte, error) { return data, nil }
		g, err := Load(LoadOptions{ReadFile: read}, "a.xsd")
		if err == nil {
			for gi := range g.Grammars {
				if _, err := g.Table(gi, 0, true, true, Options{}); err != nil {
					t.Fatal(err)
				}
			}
			b, err := g.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			var h Grammars
			if err := h.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			_ = bytes.Equal(b, b)
		}
	})
}

// FuzzUnmarshalBinary feeds hostile serialised grammars to the reader: it
// must refuse them or return grammars whose every table builds, never
// panic or allocate beyond a small multiple of the input.
func FuzzUnmarshalBinary(f *testing.F) {
	for _, g := range []*Grammars{BuiltinTypes()} {
		b, err := g.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	if g, err := Compile("testdata/product.xsd"); err == nil {
		b, _ := g.MarshalBinary()
		f.Add(b)
	}
	f.Add([]byte(marshalMagic + "\x01\xff\xff\xff\xff\x0f"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var g Grammars
		if err := g.UnmarshalBinary(data); err != nil {
			return
		}
		for gi := range g.Grammars {
			if _, err := g.Table(gi, 0, true, true, Options{}); err != nil {
				return
			}
		}
		b, err := g.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var h Grammars
		if err := h.UnmarshalBinary(b); err != nil {
			t.Fatalf("re-marshalled grammars refused: %v", err)
		}
	})
}
