package exi

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/xiot/xiot/exi/schema"
)

// TestSchemaStartReplay encodes schema-informed start tags that repeat
// the attribute names of the one before (replayed along the kept codes)
// with values that leave the kept path part-way (a float in exponent
// form, a value invalid for its type, whitespace around a boolean), the
// same names in another order, and one attribute more or fewer, and
// checks that each stream decodes to the document.
func TestSchemaStartReplay(t *testing.T) {
	g, err := schema.CompileFiles("xmppschema/xsd/sensordata.xsd")
	if err != nil {
		t.Fatal(err)
	}
	num := func(attrs string) string { return "<numeric " + attrs + "/>" }
	fields := []string{
		num(`name='a' momentary='true' value='1.5' unit='V'`),
		num(`name='b' momentary='true' value='2.5' unit='A'`), // replayed
		num(`name='c' momentary='true' value='3e2' unit='A'`), // replay leaves at value (exponent)
		num(`name='d' momentary='true' value='n/a' unit='A'`), // invalid double: untyped
		num(`name='e' momentary='true' value='4' unit='W'`),
		num(`name='f' momentary=' true ' value='5' unit='W'`), // replay leaves at the first attribute
		num(`unit='W' name='g' momentary='true' value='6'`),   // same names, other order
		num(`unit='W' name='h' momentary='true' value='7'`),
		num(`name='i' value='8' unit='W'`),                                // one fewer
		num(`name='j' momentary='true' status='true' value='9' unit='W'`), // one more
		num(`name='k' momentary='true' status='true' value='10' unit='W'`),
		"<boolean name='x' value='true'/>",
		"<boolean name='y' value='0'/>",
		"<boolean name='z' value='maybe'/>",
		num(`name='l' momentary='true' status='true' value='-11.25' unit=''`),
	}
	doc := "<fields xmlns='urn:xmpp:iot:sensordata' seqnr='1' done='true'><node nodeId='n1'><timestamp value='2017-04-01T00:00:00Z'>" +
		strings.Join(fields, "") + "</timestamp></node></fields>"
	for _, al := range []Alignment{BitPacked, ByteAligned, PreCompression, Compression} {
		t.Run(al.String(), func(t *testing.T) {
			o := DefaultOptions()
			o.Alignment = al
			o.Schema = g
			checkTokenPaths(t, []byte(doc), o)
		})
	}
}

// checkTokenPaths encodes doc twice with one Encoder from the tokens of
// encoding/xml, which take the start-tag fast paths (plainStart,
// schemaStart), and checks the bytes against EncodeXML, whose start tags
// come with their prefixes and take the general path, and that they
// decode to what EncodeXML's stream decodes to.
func checkTokenPaths(t *testing.T, doc []byte, o Options) {
	t.Helper()
	want, err := EncodeXML(doc, o)
	if err != nil {
		t.Fatalf("EncodeXML: %v", err)
	}
	// typed values decode to their canonical form: compare with what
	// EncodeXML's stream decodes to
	wantXML, err := DecodeToXML(want, o)
	if err != nil {
		t.Fatalf("decode EncodeXML's stream: %v", err)
	}
	wantSet, err := infoset(wantXML, Preserve{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	e, err := NewEncoder(&out, o)
	if err != nil {
		t.Fatal(err)
	}
	// the second document starts with the kept paths of the first
	for round := 0; round < 2; round++ {
		out.Reset()
		if err := e.Reset(&out, o); err != nil {
			t.Fatal(err)
		}
		d := xml.NewDecoder(bytes.NewReader(doc))
		for {
			tok, err := d.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := e.EncodeToken(tok); err != nil {
				t.Fatalf("round %d: encode: %v", round, err)
			}
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		if o.Alignment != Compression && !bytes.Equal(out.Bytes(), want) {
			t.Fatalf("round %d: %d bytes differ from EncodeXML's %d at byte %d", round, out.Len(), len(want), firstDiff(out.Bytes(), want))
		}
		got, err := DecodeToXML(out.Bytes(), o)
		if err != nil {
			t.Fatalf("round %d: decode: %v", round, err)
		}
		gotSet, err := infoset(got, Preserve{})
		if err != nil {
			t.Fatal(err)
		}
		if d := diffInfoset(gotSet, wantSet); d != "" {
			t.Fatalf("round %d: %s", round, d)
		}
	}
}

// TestTokenPathsBenchDoc runs checkTokenPaths on the benchmark document
// for every alignment, schema-less and schema-informed.
func TestTokenPathsBenchDoc(t *testing.T) {
	dir := vectorsDir(t)
	doc, err := os.ReadFile(filepath.Join(dir, "xiot", "xep0323-fields-1000", "xep0323-fields-1000.xml"))
	if err != nil {
		t.Fatal(err)
	}
	g, err := schema.CompileFiles(filepath.Join(dir, "schemas", "xiot.xsd"))
	if err != nil {
		t.Fatal(err)
	}
	for _, sch := range []*schema.Grammars{nil, g} {
		for _, al := range []Alignment{BitPacked, ByteAligned, PreCompression, Compression} {
			t.Run(fmt.Sprintf("schema=%v/%v", sch != nil, al), func(t *testing.T) {
				o := DefaultOptions()
				o.Alignment = al
				o.Schema = sch
				checkTokenPaths(t, doc, o)
			})
		}
	}
}

// TestSchemaReplayPacked runs checkTokenPaths on repeated start tags
// whose attributes are of the types replayPacked writes inline (strings
// that collapse or replace whitespace, patterned and plain booleans),
// with values that need normalising, values new and repeated, short and
// long, so that the inline path, its hand-over to typedFast and the
// general path all meet.
func TestSchemaReplayPacked(t *testing.T) {
	xsd := `<xs:schema xmlns:xs='http://www.w3.org/2001/XMLSchema' targetNamespace='urn:t' xmlns='urn:t' elementFormDefault='qualified'>
<xs:simpleType name='pb'><xs:restriction base='xs:boolean'><xs:pattern value='true|false|0|1'/></xs:restriction></xs:simpleType>
<xs:element name='r'><xs:complexType><xs:sequence><xs:element name='f' maxOccurs='unbounded'><xs:complexType>
<xs:attribute name='a' type='xs:token'/><xs:attribute name='b' type='xs:boolean'/><xs:attribute name='c' type='pb'/>
<xs:attribute name='d' type='xs:normalizedString'/><xs:attribute name='e' type='xs:string'/>
<xs:attribute name='g' type='xs:double'/><xs:attribute name='h' type='xs:int'/>
</xs:complexType></xs:element></xs:sequence></xs:complexType></xs:element></xs:schema>`
	path := filepath.Join(t.TempDir(), "t.xsd")
	if err := os.WriteFile(path, []byte(xsd), 0o600); err != nil {
		t.Fatal(err)
	}
	g, err := schema.CompileFiles(path)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString(`<r xmlns='urn:t'>`)
	tokens := []string{"x", "yy", " x", "x  y", "x y", "a longer token value here", "x\ty"}
	bools := []string{"true", "false", "1", "0", " true"}
	// g: doubles written to their channel at once with channels, and
	// invalid ones, untyped strings deferred to the block's end, between
	doubles := []string{"1.5", "-2E3", "not a number", "0", "12.25", "x"}
	ints := []string{"-5", "12", "+3", " 7", "0", "99999999999", "1.5"}
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&b, `<f a='%s' b='%s' c='%s' d='%s' e='%s' g='%s' h='%s'/>`, tokens[i%len(tokens)], bools[i%len(bools)],
			bools[i*3%len(bools)], tokens[i*5%len(tokens)], fmt.Sprint(i%13), doubles[i*7%len(doubles)], ints[i*3%len(ints)])
	}
	b.WriteString(`</r>`)
	// every alignment must decode to the values bit-packed streams
	// decode to (whitespace normalised where the type says so), whether
	// a value was written at once or deferred to its channel
	var ref []string
	for _, c := range []struct {
		al    Alignment
		block int
	}{{BitPacked, 0}, {ByteAligned, 0}, {PreCompression, 0}, {PreCompression, 7}, {Compression, 0}, {Compression, 250}} {
		t.Run(fmt.Sprintf("%v/block=%d", c.al, c.block), func(t *testing.T) {
			o := DefaultOptions()
			o.Alignment = c.al
			o.BlockSize = c.block
			o.Schema = g
			checkTokenPaths(t, []byte(b.String()), o)
			enc, err := EncodeXML([]byte(b.String()), o)
			if err != nil {
				t.Fatal(err)
			}
			back, err := DecodeToXML(enc, o)
			if err != nil {
				t.Fatal(err)
			}
			set, err := infoset(back, Preserve{})
			if err != nil {
				t.Fatal(err)
			}
			if ref == nil {
				ref = set
			} else if !slices.Equal(set, ref) {
				t.Fatal("decodes to other values than the bit-packed stream")
			}
		})
	}
}
