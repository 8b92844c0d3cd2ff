package exi

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// compressionDoc has more than 100 values, some channels with more than
// 100 values and some with fewer, so that a compressed block has the
// structure stream, the stream of the small channels and one stream per
// large channel.
func compressionDoc() []byte {
	var b strings.Builder
	b.WriteString("<r>")
	for i := 0; i < 300; i++ {
		fmt.Fprintf(&b, "<v id='n%d' k='%d'>text %d</v>", i, i%7, i%13)
		if i%50 == 0 {
			fmt.Fprintf(&b, "<w x='%d'/>", i)
		}
	}
	b.WriteString("</r>")
	return []byte(b.String())
}

// TestCompressionLevels encodes with every DEFLATE level and checks that
// the stream decodes to the same infoset, that its DEFLATE streams
// inflate with the standard library's decompressor (not the compressor's
// own package), and that levels outside the range are refused.
func TestCompressionLevels(t *testing.T) {
	doc := compressionDoc()
	want, err := infoset(doc, Preserve{})
	if err != nil {
		t.Fatal(err)
	}
	sizes := map[int]int{}
	for _, lvl := range []int{0, MinCompressionLevel, 2, 3, 4, DefaultCompressionLevel, 6, 7, 8, MaxCompressionLevel} {
		t.Run(fmt.Sprint("level", lvl), func(t *testing.T) {
			o := DefaultOptions()
			o.Alignment = Compression
			o.CompressionLevel = lvl
			enc, err := EncodeXML(doc, o)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			sizes[lvl] = len(enc)
			got, err := DecodeToXML(enc, o)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			gotSet, err := infoset(got, Preserve{})
			if err != nil {
				t.Fatal(err)
			}
			if d := diffInfoset(gotSet, want); d != "" {
				t.Fatalf("round trip: %s", d)
			}
			// the body after the one-byte header is a sequence of DEFLATE
			// streams: structure, small channels, then each large channel
			r := bytes.NewReader(enc[1:])
			n := 0
			for r.Len() > 0 {
				if _, err := io.Copy(io.Discard, flate.NewReader(r)); err != nil {
					t.Fatalf("stream %d does not inflate: %v", n, err)
				}
				n++
			}
			if n < 3 {
				t.Errorf("%d DEFLATE streams, want at least 3", n)
			}
		})
	}
	if sizes[0] != sizes[DefaultCompressionLevel] {
		t.Errorf("level 0 gave %d bytes, the default level %d", sizes[0], sizes[DefaultCompressionLevel])
	}
	for _, lvl := range []int{-2, -1, 10} {
		o := DefaultOptions()
		o.Alignment = Compression
		o.CompressionLevel = lvl
		if _, err := NewEncoder(io.Discard, o); !errors.Is(err, ErrInvalid) {
			t.Errorf("level %d: err = %v, want ErrInvalid", lvl, err)
		}
	}
}
