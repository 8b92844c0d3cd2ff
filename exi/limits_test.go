package exi

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// TestLimits feeds streams that exceed each limit and checks that the
// decoder stops with an error naming the limit and the bit offset.
func TestLimits(t *testing.T) {
	nested := strings.Repeat("<a>", 100) + strings.Repeat("</a>", 100)
	var many strings.Builder
	many.WriteString("<r>")
	for i := 0; i < 200; i++ {
		many.WriteString("<v x='" + strings.Repeat("y", i%7+1) + string(rune('A'+i%26)) + string(rune('a'+i/26)) + "'/>")
	}
	many.WriteString("</r>")
	tests := []struct {
		name  string
		doc   string
		lim   Limits
		limit string
	}{
		{"value length", "<r>" + strings.Repeat("x", 5000) + "</r>", Limits{MaxValueLength: 100}, "MaxValueLength"},
		{"depth", nested, Limits{MaxDepth: 50}, "MaxDepth"},
		{"events", many.String(), Limits{MaxEvents: 20}, "MaxEvents"},
		{"string table", many.String(), Limits{MaxStringTableEntries: 50}, "MaxStringTableEntries"},
		{"output", "<r>" + strings.Repeat("x", 5000) + "</r>", Limits{MaxOutput: 1000}, "MaxOutput"},
	}
	for _, tc := range tests {
		for _, al := range []Alignment{BitPacked, ByteAligned, PreCompression, Compression} {
			t.Run(tc.name+"/"+al.String(), func(t *testing.T) {
				o := DefaultOptions()
				o.Alignment = al
				o.Header.Options = true
				b, err := EncodeXML([]byte(tc.doc), o)
				if err != nil {
					t.Fatalf("encode: %v", err)
				}
				d := DefaultOptions()
				d.Limits = tc.lim
				_, err = DecodeToXML(b, d)
				var le *LimitError
				if !errors.As(err, &le) || le.Limit != tc.limit {
					t.Fatalf("err = %v, want %s exceeded", err, tc.limit)
				}
				if !errors.Is(err, ErrLimit) {
					t.Errorf("errors.Is(err, ErrLimit) is false for %v", err)
				}
				if tc.limit != "MaxOutput" || al < Compression {
					var pe *Error
					if !errors.As(err, &pe) || !strings.Contains(err.Error(), "at byte") {
						t.Errorf("error %q does not give the position", err)
					}
				}
			})
		}
	}
}

// TestHostile checks hand-made streams: a huge declared string length
// and truncated input fail fast.
func TestHostile(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		// header 10 0 00000; SE(*) (0 bits); uri miss (2 bits 00), then a
		// string length of 2^35
		{"huge length", []byte{0x80, 0x3f, 0xff, 0xff, 0xff, 0xc3, 0xc0}, ErrLimit},
		{"truncated", []byte{0x80}, nil},
		{"bad cookie", []byte("$EXX\x80"), ErrMalformed},
		{"bad version", []byte{0x81}, ErrUnsupported},
		{"empty", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeToXML(tc.in, DefaultOptions())
			if err == nil {
				t.Fatal("no error")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestStreamingInput decodes every alignment from a reader that returns
// one byte per Read, as a network connection may: the result must not
// depend on how the input arrives.
func TestStreamingInput(t *testing.T) {
	var doc strings.Builder
	doc.WriteString("<r>")
	for i := 0; i < 300; i++ {
		doc.WriteString("<v n='" + strings.Repeat("k", i%5) + "'>" + strings.Repeat("x", i%13) + "</v>")
	}
	doc.WriteString("</r>")
	for _, al := range []Alignment{BitPacked, ByteAligned, PreCompression, Compression} {
		o := DefaultOptions()
		o.Alignment, o.BlockSize = al, 150
		o.Header.Options = true
		b, err := EncodeXML([]byte(doc.String()), o)
		if err != nil {
			t.Fatal(err)
		}
		want, err := DecodeToXML(b, DefaultOptions())
		if err != nil {
			t.Fatalf("%v: %v", al, err)
		}
		d := NewDecoder(iotest.OneByteReader(bytes.NewReader(b)), DefaultOptions())
		var got []string
		for {
			tok, err := d.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%v: %v", al, err)
			}
			if s, ok := tok.(xml.StartElement); ok {
				got = append(got, s.Name.Local)
			}
		}
		if len(got) != 301 || !bytes.Contains(want, []byte("<v n=\"kkkk\">xxxx</v>")) {
			t.Errorf("%v: %d start elements, want 301", al, len(got))
		}
	}
}
