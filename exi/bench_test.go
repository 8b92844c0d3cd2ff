package exi

import (
	"bytes"
	"encoding/xml"
	"errors"
	"github.com/klauspost/compress/flate"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/xiot/xiot/exi/schema"
)

// benchDoc loads a document of the xiot vector corpus, or skips.
func benchDoc(b *testing.B, name string) []byte {
	b.Helper()
	dir := os.Getenv("XIOT_EXI_VECTORS")
	if dir == "" {
		dir = "../../shared/exi-vectors"
	}
	doc, err := os.ReadFile(filepath.Join(dir, "xiot", name, name+".xml"))
	if err != nil {
		b.Skipf("vectors not found: %v", err)
	}
	return doc
}

func benchSchema(b *testing.B) *schema.Grammars {
	b.Helper()
	dir := os.Getenv("XIOT_EXI_VECTORS")
	if dir == "" {
		dir = "../../shared/exi-vectors"
	}
	g, err := schema.CompileFiles(filepath.Join(dir, "schemas", "xiot.xsd"))
	if err != nil {
		b.Skipf("schema: %v", err)
	}
	return g
}

// tokens returns the namespace-resolved tokens of doc, copied.
func tokens(b *testing.B, doc []byte) []xml.Token {
	var out []xml.Token
	d := xml.NewDecoder(bytes.NewReader(doc))
	for {
		t, err := d.Token()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, xml.CopyToken(t))
	}
}

type benchCase struct {
	name   string
	opts   func(b *testing.B) Options
	schema bool
}

func benchCases() []benchCase {
	mk := func(a Alignment, sch bool) func(b *testing.B) Options {
		return func(b *testing.B) Options {
			o := DefaultOptions()
			o.Alignment = a
			if sch {
				o.Schema = benchSchema(b)
			}
			return o
		}
	}
	return []benchCase{
		{"bitpacked", mk(BitPacked, false), false},
		{"bytealigned", mk(ByteAligned, false), false},
		{"precompression", mk(PreCompression, false), false},
		{"compression", mk(Compression, false), false},
		{"schema-bitpacked", mk(BitPacked, true), true},
		{"schema-compression", mk(Compression, true), true},
	}
}

// BenchmarkDecode decodes xep0323-fields-1000 to tokens; bytes/s are of
// the XML the stream stands for.
func BenchmarkDecode(b *testing.B) {
	doc := benchDoc(b, "xep0323-fields-1000")
	for _, c := range benchCases() {
		b.Run(c.name, func(b *testing.B) {
			o := c.opts(b)
			enc, err := EncodeXML(doc, o)
			if err != nil {
				b.Fatal(err)
			}
			d := NewDecoder(nil, o)
			r := bytes.NewReader(enc)
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				r.Reset(enc)
				d.Reset(r, o)
				for {
					if _, err := d.Token(); err != nil {
						if errors.Is(err, io.EOF) {
							break
						}
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkXMLDecode tokenises the same XML with encoding/xml.
func BenchmarkXMLDecode(b *testing.B) {
	doc := benchDoc(b, "xep0323-fields-1000")
	r := bytes.NewReader(doc)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(doc)
		d := xml.NewDecoder(r)
		for {
			if _, err := d.Token(); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkEncode encodes the tokens of xep0323-fields-1000.
func BenchmarkEncode(b *testing.B) {
	doc := benchDoc(b, "xep0323-fields-1000")
	toks := tokens(b, doc)
	for _, c := range benchCases() {
		b.Run(c.name, func(b *testing.B) {
			o := c.opts(b)
			var out bytes.Buffer
			e, err := NewEncoder(&out, o)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				out.Reset()
				if err := e.Reset(&out, o); err != nil {
					b.Fatal(err)
				}
				for _, t := range toks {
					if err := e.EncodeToken(t); err != nil {
						b.Fatal(err)
					}
				}
				if err := e.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkXMLEncode encodes the same tokens with encoding/xml.
func BenchmarkXMLEncode(b *testing.B) {
	doc := benchDoc(b, "xep0323-fields-1000")
	toks := tokens(b, doc)
	var out bytes.Buffer
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		out.Reset()
		e := xml.NewEncoder(&out)
		for _, t := range toks {
			if err := e.EncodeToken(t); err != nil {
				b.Fatal(err)
			}
		}
		if err := e.Flush(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkXMLEncodeDeflate encodes the same tokens with encoding/xml and
// compresses the text with the DEFLATE that EXI compression uses
// (klauspost/compress, the default level, a reused writer): XML's
// counterpart of EXI compression, for comparison beside the goal's
// plain encoding/xml figure.
func BenchmarkXMLEncodeDeflate(b *testing.B) {
	doc := benchDoc(b, "xep0323-fields-1000")
	toks := tokens(b, doc)
	var out bytes.Buffer
	zw, err := flate.NewWriter(&out, DefaultCompressionLevel)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		out.Reset()
		zw.Reset(&out)
		e := xml.NewEncoder(zw)
		for _, t := range toks {
			if err := e.EncodeToken(t); err != nil {
				b.Fatal(err)
			}
		}
		if err := e.Flush(); err != nil {
			b.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSmall decodes and encodes the small stanza
// xep0323-fields-momentary with a reused Decoder/Encoder, to count
// allocations after warm-up.
func BenchmarkSmall(b *testing.B) {
	doc := benchDoc(b, "xep0323-fields-momentary")
	toks := tokens(b, doc)
	for _, c := range benchCases()[:1] {
		o := c.opts(b)
		enc, err := EncodeXML(doc, o)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("decode", func(b *testing.B) {
			d := NewDecoder(nil, o)
			r := bytes.NewReader(enc)
			b.ReportAllocs()
			for b.Loop() {
				r.Reset(enc)
				d.Reset(r, o)
				for {
					if _, err := d.Token(); err != nil {
						if errors.Is(err, io.EOF) {
							break
						}
						b.Fatal(err)
					}
				}
			}
		})
		b.Run("encode", func(b *testing.B) {
			var out bytes.Buffer
			e, _ := NewEncoder(&out, o)
			b.ReportAllocs()
			for b.Loop() {
				out.Reset()
				if err := e.Reset(&out, o); err != nil {
					b.Fatal(err)
				}
				for _, t := range toks {
					if err := e.EncodeToken(t); err != nil {
						b.Fatal(err)
					}
				}
				if err := e.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
