package exi

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/xiot/xiot/exi/schema"
)

// fuzzOptions maps a fuzzer byte to decoder options: alignment, strict,
// fidelity options, and (bit 6) xsd-types-only or (bit 7) the sensor-data
// schema, with small limits so hostile input stays cheap.
func fuzzOptions(flags byte, xsd, sensor *schema.Grammars) Options {
	return fuzzOptionsFor(nil, flags, xsd, sensor)
}

// fuzzOptionsFor is fuzzOptions for an input of its own: with channels,
// one input in three (by its length) gets a blockSize of 2 to 8, so that
// blocks also close inside documents, start tags and channels.
func fuzzOptionsFor(in []byte, flags byte, xsd, sensor *schema.Grammars) Options {
	o := DefaultOptions()
	o.Alignment = Alignment(flags & 3)
	o.Strict = flags&4 != 0
	o.Preserve.Prefixes = flags&8 != 0 && !o.Strict
	o.Preserve.Comments = flags&16 != 0 && !o.Strict
	o.Preserve.LexicalValues = flags&32 != 0
	switch {
	case flags&128 != 0 && sensor != nil:
		o.Schema = sensor
	case flags&64 != 0:
		o.Schema = xsd
	}
	o.Limits = Limits{MaxStringTableEntries: 1 << 12, MaxValueLength: 1 << 12, MaxDepth: 64, MaxEvents: 1 << 14, MaxOutput: 1 << 20}
	if o.Alignment >= PreCompression && len(in)%3 == 1 {
		o.BlockSize = 2 + len(in)%7
	}
	return o
}

// fuzzSeeds adds the small vectors of the shared set, when present.
func fuzzSeeds(f *testing.F, add func(b []byte, flags byte)) {
	dir := os.Getenv("XIOT_EXI_VECTORS")
	if dir == "" {
		dir = "../../shared/exi-vectors"
	}
	files, _ := filepath.Glob(filepath.Join(dir, "xiot", "*", "*.exi"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil || len(b) > 2048 {
			continue
		}
		var flags byte
		name := filepath.Base(p)
		switch {
		case bytes.Contains([]byte(name), []byte("bytealigned")):
			flags = 1
		case bytes.Contains([]byte(name), []byte("precompression")):
			flags = 2
		case bytes.Contains([]byte(name), []byte("compression")):
			flags = 3
		}
		if bytes.Contains([]byte(name), []byte(".schema-")) {
			if !bytes.HasPrefix([]byte(name), []byte("sensordata-")) {
				continue // needs xiot.xsd; the header options still decode
			}
			flags |= 128
		}
		add(b, flags)
	}
}

func sensorGrammars() *schema.Grammars {
	dir := os.Getenv("XIOT_EXI_VECTORS")
	if dir == "" {
		dir = "../../shared/exi-vectors"
	}
	g, err := schema.CompileFiles(filepath.Join(dir, "schemas", "sensordata.xsd"))
	if err != nil {
		return nil
	}
	return g
}

// FuzzDecode decodes arbitrary bytes: the decoder must return tokens or
// an error, never panic, and stay within its limits.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{0x80, 0x40}, byte(0))
	f.Add([]byte("$EXI\xa0\x00"), byte(1))
	fuzzSeeds(f, func(b []byte, flags byte) { f.Add(b, flags) })
	xsd := schema.BuiltinTypes()
	sensor := sensorGrammars()
	f.Fuzz(func(t *testing.T, data []byte, flags byte) {
		d := NewDecoder(bytes.NewReader(data), fuzzOptions(flags, xsd, sensor))
		for i := 0; i < 1<<15; i++ {
			if _, err := d.Token(); err != nil {
				if !errors.Is(err, io.EOF) && err.Error() == "" {
					t.Fatal("error without message")
				}
				return
			}
		}
		t.Fatal("decoder produced more tokens than MaxEvents allows")
	})
}

// FuzzHeader parses arbitrary bytes as an EXI header and options document.
func FuzzHeader(f *testing.F) {
	f.Add([]byte{0x80})
	f.Add([]byte("$EXI\xa0\x00"))
	f.Add([]byte{0xa0, 0x01, 0x02})
	fuzzSeeds(f, func(b []byte, _ byte) { f.Add(b[:min(len(b), 32)]) })
	f.Fuzz(func(t *testing.T, data []byte) {
		var r bitReader
		r.reset(bytes.NewReader(data), nil)
		lim := DefaultLimits()
		r.limits = &lim
		o := DefaultOptions()
		hi, err := readHeader(&r, &o)
		if err != nil {
			return
		}
		if hi.hasOptions && o.Header.Options {
			t.Fatal("decoder must not take HeaderOptions from the stream")
		}
		// what was read must be writable again
		var w bitWriter
		o.Header = HeaderOptions{Cookie: hi.cookie, Options: hi.hasOptions, SchemaID: hi.hasSchemaID}
		writeHeader(&w, &o)
	})
}

// FuzzEncodeXML encodes arbitrary documents: the encoder must accept or
// refuse them without panicking, and what it writes must decode.
func FuzzEncodeXML(f *testing.F) {
	f.Add([]byte(`<a x="1"><b>text</b><!--c--><?p d?></a>`), byte(0))
	f.Add([]byte(`<fields xmlns="urn:xmpp:iot:sensordata" seqnr="1" done="true"><node nodeId="n"/></fields>`), byte(128))
	f.Add([]byte(`<!DOCTYPE a [<!ENTITY e "v">]><a xmlns:p="u" p:q="&e;"><p:b xsi:type="p:t" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/></a>`), byte(8))
	xsd := schema.BuiltinTypes()
	sensor := sensorGrammars()
	f.Fuzz(func(t *testing.T, doc []byte, flags byte) {
		tm := time.AfterFunc(3*time.Second, func() { panic(fmt.Sprintf("HANG %q %d", doc, flags)) })
		defer tm.Stop()
		o := fuzzOptionsFor(doc, flags, xsd, sensor)
		o.Header.Options = true
		enc, err := EncodeXML(doc, o)
		if err != nil {
			return
		}
		d := DefaultOptions()
		d.Schema = o.Schema
		if _, err := DecodeToXML(enc, d); err != nil {
			t.Fatalf("decoding our own encoding: %v\ndocument: %q", err, doc)
		}
	})
}

// FuzzEncodeToken encodes arbitrary documents twice: from the tokens of
// encoding/xml, which take the start-tag fast paths, and with EncodeXML,
// whose start tags take the general path. Without preserved prefixes,
// comments or lexical values both must give the same bytes.
func FuzzEncodeToken(f *testing.F) {
	f.Add([]byte(`<a x="1" y="2"><b>text</b><b y="2" x="1"/><b x="3" y="4"/></a>`), byte(0))
	f.Add([]byte(`<fields xmlns="urn:xmpp:iot:sensordata" seqnr="1" done="true"><node nodeId="n"><timestamp value="2017-04-01T00:00:00Z">`+
		`<numeric name="a" momentary="true" value="1.5" unit="V"/><numeric name="b" momentary="true" value="1e3" unit="V"/>`+
		`<numeric name="c" momentary=" true" value="2" unit="V"/><boolean name="d" value="0"/></timestamp></node></fields>`), byte(128))
	f.Add([]byte(`<a xml:space="preserve"> <b xmlns="u" c="d"/> </a>`), byte(1))
	xsd := schema.BuiltinTypes()
	sensor := sensorGrammars()
	f.Fuzz(func(t *testing.T, doc []byte, flags byte) {
		tm := time.AfterFunc(3*time.Second, func() { panic(fmt.Sprintf("HANG %q %d", doc, flags)) })
		defer tm.Stop()
		o := fuzzOptionsFor(doc, flags&^(8|16|32), xsd, sensor)
		want, err := EncodeXML(doc, o)
		if err != nil {
			return
		}
		var out bytes.Buffer
		e, err := NewEncoder(&out, o)
		if err != nil {
			t.Fatal(err)
		}
		d := xml.NewDecoder(bytes.NewReader(doc))
		for {
			tok, err := d.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return // encoding/xml is stricter than EncodeXML's parsing
			}
			if _, ok := tok.(xml.Directive); ok {
				return // entities are expanded by EncodeXML only
			}
			if err := e.EncodeToken(tok); err != nil {
				t.Fatalf("EncodeToken refused what EncodeXML encoded: %v\ndocument: %q", err, doc)
			}
		}
		if err := e.Close(); err != nil {
			t.Fatalf("Close: %v\ndocument: %q", err, doc)
		}
		if !bytes.Equal(out.Bytes(), want) {
			t.Fatalf("tokens give %d bytes, EncodeXML %d, first difference at byte %d\ndocument: %q flags %d", out.Len(), len(want), firstDiff(out.Bytes(), want), doc, flags)
		}
	})
}
