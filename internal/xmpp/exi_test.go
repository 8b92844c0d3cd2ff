package xmpp

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/xiot/xiot/exi"
	"github.com/xiot/xiot/exi/xmppschema"
)

func mustParse(t *testing.T, s string) *Element {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(s))
	for {
		tok, err := d.Token()
		if err != nil {
			t.Fatal(err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			el, err := ReadElement(d, se, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			return el
		}
	}
}

func TestParseEXIParams(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want EXIParams
		err  string
	}{
		{in: `<setup xmlns='http://jabber.org/protocol/compress/exi' version='1' strict='true' blockSize='1024' valueMaxLength='32' valuePartitionCapacity='100'>
			<schema ns='jabber:client' bytes='6968' md5Hash='5e2d5cbf0506e3f16336d295093d66c4'/></setup>`,
			want: EXIParams{Strict: true, BlockSize: 1024, ValueMaxLength: 32, ValuePartitionCapacity: 100,
				Schemas: []xmppschema.Schema{{NS: "jabber:client", Bytes: 6968, MD5: "5e2d5cbf0506e3f16336d295093d66c4"}}}},
		{in: `<setupResponse xmlns='http://jabber.org/protocol/compress/exi' agreement='true' configurationId='c7' compression='true'>
			<missingSchema ns='urn:x' bytes='10' md5Hash='00'/></setupResponse>`,
			want: EXIParams{Alignment: exi.Compression, Agreement: true, ConfigurationID: "c7", ValueMaxLength: -1, ValuePartitionCapacity: -1,
				Missing: []xmppschema.Schema{{NS: "urn:x", Bytes: 10, MD5: "00"}}}},
		{in: `<setup xmlns='http://jabber.org/protocol/compress/exi' alignment='byte-alignment'/>`,
			want: EXIParams{Alignment: exi.ByteAligned, ValueMaxLength: -1, ValuePartitionCapacity: -1}},
		{in: `<setup xmlns='http://jabber.org/protocol/compress/exi' sessionWideBuffers='true' valuePartitionCapacity='64'/>`,
			want: EXIParams{SessionWideBuffers: true, ValueMaxLength: -1, ValuePartitionCapacity: 64}},
		{in: `<setupResponse xmlns='http://jabber.org/protocol/compress/exi' agreement='true' sessionWideBuffers='false'/>`,
			want: EXIParams{Agreement: true, ValueMaxLength: -1, ValuePartitionCapacity: -1}},
		{in: `<setup xmlns='http://jabber.org/protocol/compress/exi' sessionWideBuffers='yes'/>`, err: "sessionWideBuffers"},
		{in: `<setup xmlns='http://jabber.org/protocol/compress/exi' version='2'/>`, err: "version"},
		{in: `<setup xmlns='http://jabber.org/protocol/compress/exi' alignment='diagonal'/>`, err: "alignment"},
		{in: `<setup xmlns='http://jabber.org/protocol/compress/exi' blockSize='-4'/>`, err: "blockSize"},
		{in: `<setup xmlns='http://jabber.org/protocol/compress/exi' strict='maybe'/>`, err: "strict"},
		{in: `<setup xmlns='http://jabber.org/protocol/compress/exi' preservePrefixes='true'/>`, err: "not supported"},
		{in: `<setup xmlns='http://jabber.org/protocol/compress/exi'><schema ns='a' bytes='x' md5Hash='0'/></setup>`, err: "schema"},
	} {
		got, err := ParseEXIParams(mustParse(t, tc.in))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: got %v, want error with %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.in, got, tc.want)
		}
		// What Element writes parses back the same.
		name := "setup"
		if got.Agreement || got.ConfigurationID != "" {
			name = "setupResponse"
		}
		again, err := ParseEXIParams(got.Element(name))
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Errorf("round trip of %+v: %+v, %v", got, again, err)
		}
	}
}

func TestEXIBodiesRoundTrip(t *testing.T) {
	set, err := xmppschema.New()
	if err != nil {
		t.Fatal(err)
	}
	stanzas := []string{
		`<iq xmlns='jabber:client' type='get' id='1' to='device@localhost/agent'><ping xmlns='urn:xmpp:ping'/></iq>`,
		`<message xmlns='jabber:client' to='a@b' xml:lang='en'><body>héllo &lt;world&gt;</body></message>`,
		`<iq xmlns='jabber:client' type='result' id='r1'><resp xmlns='urn:xmpp:iot:sensordata' id='7'><nd id='n'><ts v='2026-12-01T10:00:00Z'><q n='t' v='21.5' u='C' m='true'/><b n='on' v='true' m='true'/></ts></nd></resp></iq>`,
		`<features xmlns='http://etherx.jabber.org/streams'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></features>`,
	}
	for _, tc := range []struct {
		name string
		cfg  EXIConfig
	}{
		{"schema-less", EXIConfig{}},
		{"schema-less compression", EXIConfig{Alignment: exi.Compression}},
		{"schema-informed", EXIConfig{SchemaInformed: true}},
		{"schema-informed pre-compression", EXIConfig{SchemaInformed: true, Alignment: exi.PreCompression, BlockSize: 3}},
		{"schema-informed byte-aligned", EXIConfig{SchemaInformed: true, Alignment: exi.ByteAligned}},
		{"schema-less session-wide", EXIConfig{SessionWideBuffers: true}},
		{"schema-informed session-wide", EXIConfig{SchemaInformed: true, SessionWideBuffers: true}},
		{"schema-informed compression session-wide", EXIConfig{SchemaInformed: true, Alignment: exi.Compression, SessionWideBuffers: true}},
		{"schema-informed, the agent's namespaces", EXIConfig{Mode: EXINegotiate, SchemaInformed: true, SessionWideBuffers: true, Namespaces: agentNamespaces}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts, err := mustParams(t, tc.cfg, set).Options(set, 0)
			if err != nil {
				t.Fatal(err)
			}
			w := NewEXIWriter(opts, NSClient)
			var b bytes.Buffer
			var els []*Element
			for i, s := range stanzas {
				el := mustParse(t, s)
				els = append(els, el)
				if err := w.Append(&b, el, i == 0); err != nil {
					t.Fatal(err)
				}
			}
			r := NewEXIReader(&b, opts)
			for _, want := range els {
				got, _, err := r.Next()
				if err != nil {
					t.Fatal(err)
				}
				if canon(got) != canon(want) {
					t.Errorf("got  %s\nwant %s", got, want)
				}
			}
			if _, _, err := r.Next(); err != io.EOF {
				t.Errorf("after the last body: %v, want io.EOF", err)
			}
		})
	}
}

// agentNamespaces are those the agent proposes (cmd/xiot).
var agentNamespaces = []string{"urn:xmpp:iot:sensordata", "urn:xmpp:iot:control", NSPing}

func mustParams(t testing.TB, c EXIConfig, set *xmppschema.Set) EXIParams {
	t.Helper()
	p, err := c.Params(set)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEXIProposalNamespaces(t *testing.T) {
	set, err := xmppschema.New()
	if err != nil {
		t.Fatal(err)
	}
	nss := func(c EXIConfig) []string {
		var out []string
		for _, sc := range mustParams(t, c, set).Schemas {
			out = append(out, sc.NS)
		}
		return out
	}
	core := []string{NSStream, NSEXI, "http://www.w3.org/XML/1998/namespace", NSClient, "urn:ietf:params:xml:ns:xmpp-stanzas", "urn:ietf:params:xml:ns:xmpp-streams", NSSM}
	for _, tc := range []struct {
		name      string
		cfg       EXIConfig
		want, not []string
	}{
		{"every schema by default", EXIConfig{SchemaInformed: true}, append(slices.Clone(core), "urn:xmpp:iot:concentrators", NSTLS, NSSASL), nil},
		{"agent, negotiated: no STARTTLS or SASL in EXI", EXIConfig{SchemaInformed: true, Mode: EXINegotiate, Namespaces: agentNamespaces},
			append(slices.Clone(core), "urn:xmpp:iot:sensordata", "urn:xmpp:iot:control", NSPing,
				"jabber:x:data", "http://jabber.org/protocol/xdata-validate", "http://jabber.org/protocol/xdata-layout"),
			[]string{"urn:xmpp:iot:concentrators", NSTLS, NSSASL}},
		{"agent, alternative binding: the whole set, known by its ID", EXIConfig{SchemaInformed: true, Mode: EXIAlternative, Namespaces: agentNamespaces},
			append(slices.Clone(core), "urn:xmpp:iot:concentrators", NSTLS, NSSASL), nil},
		{"schema-less: none", EXIConfig{Namespaces: agentNamespaces}, nil, core},
	} {
		got := nss(tc.cfg)
		for _, ns := range tc.want {
			if !slices.Contains(got, ns) {
				t.Errorf("%s: %q missing from %q", tc.name, ns, got)
			}
		}
		for _, ns := range tc.not {
			if slices.Contains(got, ns) {
				t.Errorf("%s: %q proposed: %q", tc.name, ns, got)
			}
		}
	}
	if _, err := (EXIConfig{SchemaInformed: true, Namespaces: []string{"urn:example:none"}}).Params(set); err == nil || !strings.Contains(err.Error(), "urn:example:none") {
		t.Errorf("unknown namespace: %v", err)
	}
}

func TestEXIReaderBadInput(t *testing.T) {
	opts, err := mustParams(t, EXIConfig{}, nil).Options(nil, 1024)
	if err != nil {
		t.Fatal(err)
	}
	var valid bytes.Buffer
	if err := NewEXIWriter(opts, NSClient).Append(&valid, NewElement(NSClient, "message").AddText(strings.Repeat("x", 100)), false); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want string // stream error condition, or "" for a lost link
	}{
		{"garbage", []byte("hello world"), "not-well-formed"},
		{"truncated", valid.Bytes()[:len(valid.Bytes())-10], ""},
		{"huge length", []byte{0x80, 0xff, 0xff, 0xff, 0xff, 0x13, 0x37, 0x00, 0x01}, "policy-violation"},
	} {
		_, _, err := NewEXIReader(bytes.NewReader(tc.in), opts).Next()
		var se *StreamError
		switch {
		case tc.want == "" && !errors.Is(err, io.ErrUnexpectedEOF):
			t.Errorf("%s: got %v, want unexpected EOF", tc.name, err)
		case tc.want != "" && (!errors.As(err, &se) || se.Condition != tc.want):
			t.Errorf("%s: got %v, want stream error %s", tc.name, err, tc.want)
		}
	}
}

// FuzzEXIReader feeds arbitrary bytes to the EXI body reader: it must
// return an element or an error, never panic or run away.
func FuzzEXIReader(f *testing.F) {
	set, err := xmppschema.New()
	if err != nil {
		f.Fatal(err)
	}
	informed, err := mustParams(f, EXIConfig{SchemaInformed: true}, set).Options(set, 4096)
	if err != nil {
		f.Fatal(err)
	}
	less, _ := mustParams(f, EXIConfig{}, nil).Options(nil, 4096)
	for _, o := range []exi.Options{informed, less} {
		var b bytes.Buffer
		_ = NewEXIWriter(o, NSClient).Append(&b, EXIStreamStart(NSClient, "to", "localhost", "version", "1.0"), true)
		_ = NewEXIWriter(o, NSClient).Append(&b, mustParseF(`<message xmlns='jabber:client' to='a@b'><body>hi</body></message>`), false)
		f.Add(b.Bytes(), o.Schema != nil)
	}
	f.Fuzz(func(t *testing.T, data []byte, schemaInformed bool) {
		o := less
		if schemaInformed {
			o = informed
		}
		r := NewEXIReader(bytes.NewReader(data), o)
		for range 4 {
			if _, _, err := r.Next(); err != nil {
				return
			}
		}
	})
}

// canon serializes el with attributes sorted: schema-informed EXI orders
// attributes by name, which XML does not care about.
func canon(el *Element) string {
	c := el.Copy()
	var sortAttrs func(e *Element)
	sortAttrs = func(e *Element) {
		slices.SortFunc(e.Attr, func(a, b xml.Attr) int {
			return strings.Compare(a.Name.Space+" "+a.Name.Local, b.Name.Space+" "+b.Name.Local)
		})
		for _, k := range e.Children() {
			sortAttrs(k)
		}
	}
	sortAttrs(c)
	return c.String()
}

func mustParseF(s string) *Element {
	d := xml.NewDecoder(strings.NewReader(s))
	tok, _ := d.Token()
	el, _ := ReadElement(d, tok.(xml.StartElement), Limits{})
	return el
}

// FuzzParseEXIParams feeds arbitrary setup elements to the parser: it
// never panics, and what it accepts survives a round trip.
func FuzzParseEXIParams(f *testing.F) {
	f.Add(`<setup xmlns='http://jabber.org/protocol/compress/exi' version='1' strict='true' blockSize='1024' valueMaxLength='32' valuePartitionCapacity='100'><schema ns='jabber:client' bytes='6968' md5Hash='5e2d5cbf0506e3f16336d295093d66c4'/></setup>`)
	f.Add(`<setupResponse xmlns='http://jabber.org/protocol/compress/exi' agreement='true' configurationId='c7' compression='true'><missingSchema ns='urn:x' bytes='10' md5Hash='00'/></setupResponse>`)
	f.Add(`<setup xmlns='http://jabber.org/protocol/compress/exi' alignment='pre-compression' configurationId='x'/>`)
	f.Fuzz(func(t *testing.T, s string) {
		d := xml.NewDecoder(strings.NewReader(s))
		tok, err := d.Token()
		for err == nil {
			if _, ok := tok.(xml.StartElement); ok {
				break
			}
			tok, err = d.Token()
		}
		if err != nil {
			return
		}
		el, err := ReadElement(d, tok.(xml.StartElement), Limits{MaxDepth: 8})
		if err != nil {
			return
		}
		p, err := ParseEXIParams(el)
		if err != nil {
			return
		}
		name := "setup"
		if p.Agreement || len(p.Missing) > 0 {
			name = "setupResponse"
		}
		again, err := ParseEXIParams(p.Element(name))
		if err != nil {
			t.Fatalf("%+v does not parse back: %v", p, err)
		}
		if !reflect.DeepEqual(again, p) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", again, p)
		}
	})
}

// TestEXISessionWideBodies: with sessionWideBuffers the bodies of a
// stream share their tables and are smaller; a body with a header (a
// restart's streamStart) starts the tables afresh on both ends; after a
// body that failed to encode the writer refuses the next ones.
func TestEXISessionWideBodies(t *testing.T) {
	set, err := xmppschema.New()
	if err != nil {
		t.Fatal(err)
	}
	stanza := func(i int) *Element {
		return mustParse(t, fmt.Sprintf(`<iq xmlns='jabber:client' type='result' id='r%d' to='owner@example.org/app' from='sensor@example.org/dev'><resp xmlns='urn:xmpp:iot:sensordata' id='%d'><nd id='dev'><ts v='2026-12-01T10:00:00Z'><q n='temperature' v='21.%d' u='C' m='true'/></ts></nd></resp></iq>`, i, i, i%10))
	}
	for _, tc := range []struct {
		name string
		cfg  EXIConfig
	}{
		{"schema-less", EXIConfig{}},
		{"schema-informed", EXIConfig{SchemaInformed: true}},
		{"schema-informed compression", EXIConfig{SchemaInformed: true, Alignment: exi.Compression}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			size := map[bool]int{}
			for _, swb := range []bool{false, true} {
				cfg := tc.cfg
				cfg.SessionWideBuffers = swb
				opts, err := mustParams(t, cfg, set).Options(set, 0)
				if err != nil {
					t.Fatal(err)
				}
				w := NewEXIWriter(opts, NSClient)
				var b bytes.Buffer
				var els []*Element
				for restart := range 2 {
					start := EXIStreamStart(NSClient, "to", "example.org", "version", "1.0")
					els = append(els, start)
					if err := w.Append(&b, start, true); err != nil {
						t.Fatal(err)
					}
					for i := range 10 {
						el := stanza(restart*10 + i)
						els = append(els, el)
						n := b.Len()
						if err := w.Append(&b, el, false); err != nil {
							t.Fatal(err)
						}
						size[swb] += b.Len() - n
					}
				}
				r := NewEXIReader(&b, opts)
				for i, want := range els {
					got, _, err := r.Next()
					if err != nil {
						t.Fatalf("body %d: %v", i, err)
					}
					if canon(got) != canon(want) {
						t.Fatalf("body %d: got  %s\nwant %s", i, got, want)
					}
				}
				// A reader that does not keep the tables cannot follow:
				// it fails, or (EXI has no check value) reads other
				// elements, before the end.
				if swb {
					plain, _ := mustParams(t, tc.cfg, set).Options(set, 0)
					r := NewEXIReader(bytes.NewReader(b.Bytes()), plain)
					same := 0
					for _, want := range els {
						got, _, err := r.Next()
						if err != nil || canon(got) != canon(want) {
							break
						}
						same++
					}
					if same == len(els) {
						t.Errorf("a reader without sessionWideBuffers read the %d bodies", same)
					}
				}
			}
			if size[true] >= size[false]*3/4 {
				t.Errorf("stanzas: %d bytes with sessionWideBuffers, %d without; want at least 25 %% less", size[true], size[false])
			}
		})
	}

	// A failed body ends the session's tables: the next body is refused.
	opts, err := mustParams(t, EXIConfig{SchemaInformed: true, Strict: true, SessionWideBuffers: true}, set).Options(set, 0)
	if err != nil {
		t.Fatal(err)
	}
	w := NewEXIWriter(opts, NSClient)
	var b bytes.Buffer
	if err := w.Append(&b, stanza(1), false); err != nil {
		t.Fatal(err)
	}
	if err := w.Append(&b, mustParse(t, `<message xmlns='jabber:client' bogus='1'/>`), false); err == nil {
		t.Fatal("strict writer encoded an attribute outside the schemas")
	}
	if err := w.Append(&b, stanza(2), false); !errors.Is(err, exi.ErrSession) {
		t.Fatalf("after a failed body: %v, want exi.ErrSession", err)
	}
}

// TestEXIStreamClosesWhenSessionTablesLost: a stanza that cannot be
// encoded on a stream with sessionWideBuffers ends the connection (no
// later body could be encoded); without them the stream goes on.
func TestEXIStreamClosesWhenSessionTablesLost(t *testing.T) {
	set, err := xmppschema.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, swb := range []bool{false, true} {
		opts, err := mustParams(t, EXIConfig{SchemaInformed: true, Strict: true, SessionWideBuffers: swb}, set).Options(set, 0)
		if err != nil {
			t.Fatal(err)
		}
		c1, c2 := net.Pipe()
		go func() { _, _ = io.Copy(io.Discard, c2) }()
		st := newStream(c1, NSClient, 0)
		st.useEXI(opts, false)
		bad := mustParse(t, `<message xmlns='jabber:client' bogus='1'/>`)
		if err := st.writeElements(bad); err == nil {
			t.Fatalf("swb=%v: a stanza outside the strict schemas was written", swb)
		}
		err = st.writeElements(NewElement(NSClient, "message", "to", "a@b"))
		if swb && !errors.Is(err, net.ErrClosed) {
			t.Errorf("after lost session tables: %v, want net.ErrClosed", err)
		}
		if !swb && err != nil {
			t.Errorf("without sessionWideBuffers: %v, want the stream to go on", err)
		}
		c1.Close()
		c2.Close()
	}
}

// FuzzLoadQuick: a damaged or hostile quick configuration file is an
// error or no configuration, never a panic, and never a configuration
// outside its scope.
func FuzzLoadQuick(f *testing.F) {
	good, _ := json.Marshal(quickFile{Version: 1, Scope: "s", ID: "id", Params: EXIParams{Agreement: true}})
	f.Add(good)
	f.Add([]byte("{"))
	f.Add([]byte(`{"version":1,"scope":"other","configurationId":"x","params":{"Agreement":true}}`))
	f.Add([]byte(`{"version":2,"scope":"s","configurationId":"x","params":{"Agreement":true,"Alignment":200,"BlockSize":-1}}`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "q.json")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		q, err := loadQuick(path, "s")
		if err != nil && q != nil {
			t.Fatal("a configuration and an error")
		}
		if q != nil {
			var qf quickFile
			if json.Unmarshal(data, &qf) != nil || qf.Scope != "s" || qf.Version != 1 || q.id == "" || !q.params.Agreement {
				t.Fatalf("configuration %+v loaded from %q", q, data)
			}
		}
	})
}
