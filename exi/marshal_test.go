package exi

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/xiot/xiot/exi/schema"
)

// TestSerializedGrammars checks that grammars restored from
// MarshalBinary encode the same bytes as freshly compiled ones, so that a
// device can ship them instead of the XSD.
func TestSerializedGrammars(t *testing.T) {
	dir := vectorsDir(t)
	g, err := schema.CompileFiles(filepath.Join(dir, "schemas", "xiot.xsd"))
	if err != nil {
		t.Fatal(err)
	}
	bin, err := g.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var g2 schema.Grammars
	if err := g2.UnmarshalBinary(bin); err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join(dir, "xiot", "xep0323-fields-types", "xep0323-fields-types.xml"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(dir, "xiot", "xep0323-fields-types", "xep0323-fields-types.schema-bitpacked.exi"))
	if err != nil {
		t.Fatal(err)
	}
	for _, gr := range []*schema.Grammars{g, &g2} {
		o := DefaultOptions()
		o.Schema = gr
		got, err := EncodeXML(doc, o)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("encoding with %s grammars differs from the oracle at byte %d", map[bool]string{true: "compiled", false: "unmarshalled"}[gr == g], firstDiff(got, want))
		}
		if _, err := DecodeToXML(got, o); err != nil {
			t.Fatal(err)
		}
	}
}
