package exi

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/xiot/xiot/exi/schema"
)

// stanzas returns n XMPP-like documents that repeat JIDs, names and ids,
// the traffic XEP-0322's sessionWideBuffers is for.
func stanzas(n int) []string {
	docs := make([]string, n)
	for i := range docs {
		switch i % 3 {
		case 0:
			docs[i] = fmt.Sprintf(`<iq xmlns="jabber:client" type="get" id="r%d" to="sensor-7@iot.example.org/device" from="owner@iot.example.org/app"><req xmlns="urn:xmpp:iot:sensordata" seqnr="%d" momentary="true"/></iq>`, i, i)
		case 1:
			docs[i] = fmt.Sprintf(`<iq xmlns="jabber:client" type="result" id="r%d" from="sensor-7@iot.example.org/device" to="owner@iot.example.org/app"><accepted xmlns="urn:xmpp:iot:sensordata" seqnr="%d"/></iq>`, i-1, i-1)
		default:
			docs[i] = fmt.Sprintf(`<message xmlns="jabber:client" from="sensor-7@iot.example.org/device" to="owner@iot.example.org/app"><fields xmlns="urn:xmpp:iot:sensordata" seqnr="%d" done="true"><node nodeId="sensor-7"><timestamp value="2026-12-01T11:%02d:00Z"><numeric name="Temperature" momentary="true" automaticReadout="true" value="%d.5" unit="°C"/></timestamp></node></fields></message>`, i-2, i%60, 20+i%7)
		}
	}
	return docs
}

// docTokens returns the tokens of doc as the canonical strings the
// decoder's output is compared with.
func docTokens(doc string) ([]string, error) {
	d := xml.NewDecoder(strings.NewReader(doc))
	var out []string
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, canonToken(tok))
	}
}

func canonToken(tok xml.Token) string {
	switch t := tok.(type) {
	case xml.StartElement:
		var attrs []string
		for _, a := range t.Attr {
			if a.Name.Space == "xmlns" || a.Name.Local == "xmlns" && a.Name.Space == "" {
				continue // namespace declarations are not preserved
			}
			attrs = append(attrs, fmt.Sprintf(" {%s}%s=%q", a.Name.Space, a.Name.Local, a.Value))
		}
		slices.Sort(attrs) // schema-informed streams sort them
		return fmt.Sprintf("SE {%s}%s%s", t.Name.Space, t.Name.Local, strings.Join(attrs, ""))
	case xml.EndElement:
		return fmt.Sprintf("EE {%s}%s", t.Name.Space, t.Name.Local)
	case xml.CharData:
		return fmt.Sprintf("CH %q", t)
	}
	return fmt.Sprintf("%T", tok)
}

// encodeDocs encodes docs with one Encoder, one EXI document each.
func encodeDocs(opts Options, docs []string) ([][]byte, error) {
	var e *Encoder
	bodies := make([][]byte, len(docs))
	for i, doc := range docs {
		var out bytes.Buffer
		var err error
		if e == nil {
			e, err = NewEncoder(&out, opts)
		} else {
			err = e.Reset(&out, opts)
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		d := xml.NewDecoder(strings.NewReader(doc))
		for {
			tok, err := d.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, err
			}
			if err := e.EncodeToken(tok); err != nil {
				return nil, fmt.Errorf("document %d: %w", i, err)
			}
		}
		if err := e.Close(); err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		bodies[i] = out.Bytes()
	}
	return bodies, nil
}

// decodeDocs decodes bodies with one Decoder and returns the canonical
// tokens of each; it stops at the first error.
func decodeDocs(opts Options, bodies [][]byte) ([][]string, error) {
	d := NewDecoder(nil, opts)
	out := make([][]string, len(bodies))
	for i, b := range bodies {
		d.Reset(bytes.NewReader(b), opts)
		for {
			tok, err := d.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return out, fmt.Errorf("document %d: %w", i, err)
			}
			out[i] = append(out[i], canonToken(tok))
		}
	}
	return out, nil
}

func sessionOptions() []struct {
	name string
	opts Options
} {
	var cases []struct {
		name string
		opts Options
	}
	for _, a := range []Alignment{BitPacked, ByteAligned, PreCompression, Compression} {
		for _, xsd := range []bool{false, true} {
			o := DefaultOptions()
			o.Alignment, o.ValueMaxLength, o.ValuePartitionCapacity = a, 64, 64
			name := a.String()
			if xsd {
				o.Schema, o.SchemaID = schema.BuiltinTypes(), ""
				name += "/xsd-types"
			}
			cases = append(cases, struct {
				name string
				opts Options
			}{name, o})
		}
	}
	return cases
}

// TestSessionWideBuffers encodes a sequence of documents keeping the
// tables and decodes it keeping them too: the same infosets, in fewer
// bytes than with fresh tables per document.
func TestSessionWideBuffers(t *testing.T) {
	docs := stanzas(30)
	var want [][]string
	for _, doc := range docs {
		toks, err := docTokens(doc)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, toks)
	}
	for _, tc := range sessionOptions() {
		t.Run(tc.name, func(t *testing.T) {
			fresh, err := encodeDocs(tc.opts, docs)
			if err != nil {
				t.Fatal(err)
			}
			o := tc.opts
			o.SessionWideBuffers = true
			kept, err := encodeDocs(o, docs)
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeDocs(o, kept)
			if err != nil {
				t.Fatal(err)
			}
			for i := range want {
				if d := diffInfoset(got[i], want[i]); d != "" {
					t.Fatalf("document %d: %s", i, d)
				}
			}
			nf, nk := 0, 0
			for i := range docs {
				nf, nk = nf+len(fresh[i]), nk+len(kept[i])
			}
			if nk >= nf*3/4 {
				t.Errorf("kept tables: %d bytes, fresh tables: %d bytes; want at least 25 %% less", nk, nf)
			}
			// The first document of a session is the same as without it.
			if !bytes.Equal(kept[0], fresh[0]) {
				t.Errorf("first document differs with sessionWideBuffers")
			}
		})
	}
}

// TestSessionWideBuffersMixed: one end keeps the tables, the other does
// not. The decoder must fail, not return other documents.
func TestSessionWideBuffersMixed(t *testing.T) {
	docs := stanzas(12)
	for _, tc := range sessionOptions() {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.opts
			o.SessionWideBuffers = true
			kept, err := encodeDocs(o, docs)
			if err != nil {
				t.Fatal(err)
			}
			fresh, err := encodeDocs(tc.opts, docs)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				name   string
				bodies [][]byte
				dec    Options
			}{
				{"encoder keeps", kept, tc.opts},
				{"decoder keeps", fresh, o},
			} {
				_, err := decodeDocs(c.dec, c.bodies)
				if !errors.Is(err, ErrMalformed) {
					t.Errorf("%s: decoding error %v, want ErrMalformed", c.name, err)
				}
			}
		})
	}
}

// TestSessionWideBuffersBroken: after a document that did not complete,
// the session cannot go on (ErrSession) until a header with the cookie
// starts a new one; the options cannot change within a session.
func TestSessionWideBuffersBroken(t *testing.T) {
	o := DefaultOptions()
	o.SessionWideBuffers = true
	docs := stanzas(3)
	bodies, err := encodeDocs(o, docs)
	if err != nil {
		t.Fatal(err)
	}

	// Encoder: a document abandoned before Close.
	var out bytes.Buffer
	e, err := NewEncoder(&out, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.EncodeToken(xml.StartElement{Name: xml.Name{Space: "jabber:client", Local: "iq"}}); err != nil {
		t.Fatal(err)
	}
	if err := e.Reset(&out, o); !errors.Is(err, ErrSession) {
		t.Fatalf("Reset after an abandoned document: %v, want ErrSession", err)
	}
	if err := e.EncodeToken(xml.StartElement{Name: xml.Name{Local: "x"}}); err == nil {
		t.Fatal("EncodeToken after a failed Reset succeeded")
	}
	restart := o
	restart.Header.Cookie = true
	if err := e.Reset(&out, restart); err != nil {
		t.Fatalf("Reset with the cookie (new session): %v", err)
	}
	changed := o
	changed.ValuePartitionCapacity = 8
	if err := e.Reset(&out, changed); !errors.Is(err, ErrSession) {
		t.Fatalf("Reset with other options within the session: %v, want ErrSession", err)
	}

	// Decoder: a truncated document; the next one of the session cannot
	// be decoded, one that starts a new session (cookie) can.
	withCookie, err := encodeDocs(restart, docs[:2])
	if err != nil {
		t.Fatal(err)
	}
	d := NewDecoder(nil, o)
	for i, c := range []struct {
		body    []byte
		wantErr error
	}{
		{bodies[0], nil},
		{bodies[1][:len(bodies[1])/2], io.ErrUnexpectedEOF},
		{bodies[2], ErrSession},
		{bodies[2], ErrSession},
		{withCookie[0], nil},
		{withCookie[1], nil},
	} {
		d.Reset(bytes.NewReader(c.body), o)
		var err error
		for err == nil {
			_, err = d.Token()
		}
		if errors.Is(err, io.EOF) {
			err = nil
		}
		if c.wantErr == nil && err != nil || c.wantErr != nil && !errors.Is(err, c.wantErr) {
			t.Errorf("step %d: %v, want %v", i, err, c.wantErr)
		}
	}
}

// TestSessionWideBuffersBounded runs long sessions: with a bounded value
// partition the tables stop growing however many values pass; new names
// without end hit MaxStringTableEntries on both ends instead of growing
// memory.
func TestSessionWideBuffersBounded(t *testing.T) {
	o := DefaultOptions()
	o.SessionWideBuffers = true
	o.ValuePartitionCapacity, o.ValueMaxLength = 64, 64
	const n = 5000
	docs := make([]string, n)
	for i := range docs {
		docs[i] = fmt.Sprintf(`<iq xmlns="jabber:client" id="id-%d" to="a@b/c"><v t="2026-12-01T%d">%d</v></iq>`, i, i, i*7)
	}
	bodies, err := encodeDocs(o, docs)
	if err != nil {
		t.Fatal(err)
	}
	d := NewDecoder(nil, o)
	for i, b := range bodies {
		d.Reset(bytes.NewReader(b), o)
		for {
			_, err := d.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("document %d: %v", i, err)
			}
		}
	}
	live := 0
	for _, u := range d.t.uris {
		for _, ln := range u.locals {
			live += len(ln.lvals)
		}
	}
	if len(d.t.gvals) != 64 || live > 64+8 {
		t.Errorf("after %d documents: %d global values, %d local entries; want 64 and about 64", n, len(d.t.gvals), live)
	}
	if d.t.entries > 200 {
		t.Errorf("after %d documents: %d string-table entries counted", n, d.t.entries)
	}

	// A new element name in every document.
	lim := o
	lim.Limits.MaxStringTableEntries = 300
	names := make([]string, 400)
	for i := range names {
		names[i] = fmt.Sprintf(`<e%d xmlns="urn:x"/>`, i)
	}
	if _, err := encodeDocs(lim, names); !errors.Is(err, ErrLimit) {
		t.Errorf("encoder: %v, want ErrLimit", err)
	}
	bodies, err = encodeDocs(o, names)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decodeDocs(lim, bodies); !errors.Is(err, ErrLimit) {
		t.Errorf("decoder: %v, want ErrLimit", err)
	}
}

// TestSessionWideBuffersHostile decodes damaged documents in the middle
// of a session: errors, never a panic, and the tables within the limits.
func TestSessionWideBuffersHostile(t *testing.T) {
	docs := stanzas(9)
	for _, tc := range sessionOptions() {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.opts
			o.SessionWideBuffers = true
			o.Limits = Limits{MaxStringTableEntries: 500, MaxOutput: 1 << 16, MaxEvents: 1 << 12}
			bodies, err := encodeDocs(o, docs)
			if err != nil {
				t.Fatal(err)
			}
			rng := uint64(len(tc.name))
			next := func(n int) int {
				rng = rng*6364136223846793005 + 1442695040888963407
				return int(rng>>33) % n
			}
			d := NewDecoder(nil, o)
			for range 300 {
				// A good prefix of the session, then a damaged document.
				k := next(len(bodies))
				seq := append([][]byte{}, bodies[:k]...)
				bad := bytes.Clone(bodies[k])
				for range 1 + next(4) {
					bad[next(len(bad))] ^= byte(1 << next(8))
				}
				seq = append(seq, bad)
				for _, b := range seq {
					d.Reset(bytes.NewReader(b), o)
					for {
						if _, err := d.Token(); err != nil {
							break
						}
					}
				}
				if d.t != nil && d.t.entries > 500+64 {
					t.Fatalf("%d entries after a damaged document", d.t.entries)
				}
				// A document without the option ends the session.
				d.Reset(bytes.NewReader(nil), DefaultOptions())
				_, _ = d.Token()
			}
		})
	}
}
