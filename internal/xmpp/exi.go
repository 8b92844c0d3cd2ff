package xmpp

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/xiot/xiot/exi"
	"github.com/xiot/xiot/exi/schema"
	"github.com/xiot/xiot/exi/xmppschema"
)

// XEP-0322 and XEP-0138 namespaces.
const (
	NSEXI             = "http://jabber.org/protocol/compress/exi"
	NSCompress        = "http://jabber.org/protocol/compress"
	NSCompressFeature = "http://jabber.org/features/compress"
)

// EXIMode says whether and how a client session uses EXI (XEP-0322).
type EXIMode int

// The EXI modes.
const (
	// EXIOff keeps the stream in XML.
	EXIOff EXIMode = iota
	// EXINegotiate starts in XML and switches to EXI through XEP-0138
	// stream compression (method "exi") after authentication, when the
	// server offers it; otherwise the session stays in XML.
	EXINegotiate
	// EXIAlternative speaks EXI from the first byte (XEP-0322 alternative
	// binding); Config.Server must then be the server's EXI port.
	EXIAlternative
)

func (m EXIMode) String() string {
	switch m {
	case EXIOff:
		return "off"
	case EXINegotiate:
		return "negotiate"
	case EXIAlternative:
		return "alternative-binding"
	}
	return "EXIMode(" + strconv.Itoa(int(m)) + ")"
}

// EXIConfig holds the EXI options a client proposes. The zero value of the
// numeric fields means the XEP-0322 defaults (valueMaxLength and
// valuePartitionCapacity 64, EXI's default blockSize).
type EXIConfig struct {
	Mode EXIMode
	// SchemaInformed uses the canonical schema of every schema in Schemas
	// (the XMPP core, XEP-0322 and the IoT XEPs); false is schema-less.
	SchemaInformed bool
	// Alignment is bit-packed (default), byte-alignment, pre-compression
	// or compression (DEFLATE over the EXI channels).
	Alignment exi.Alignment
	// Strict selects strict schema-informed grammars (only with
	// SchemaInformed; stanzas outside the schemas then cannot be sent).
	Strict                 bool
	BlockSize              int
	ValueMaxLength         int
	ValuePartitionCapacity int
	// SessionWideBuffers proposes XEP-0322's sessionWideBuffers: both
	// ends keep their string tables (and the grammars learned with them)
	// from stanza to stanza for the whole stream, so JIDs, ids and names
	// are sent once. Only the negotiated setup (EXINegotiate) carries it;
	// the alternative binding's options header cannot.
	SessionWideBuffers bool
	// Schemas is the schema set; nil means the embedded xmppschema set.
	Schemas *xmppschema.Set
	// Namespaces are the application namespaces the session speaks (for
	// the agent: sensor data, control, ping). When set, a negotiated
	// schema-informed proposal (EXINegotiate) lists only their schemas,
	// what those import and XMPP's core after the switch to EXI (streams
	// and their errors, jabber:client, stanza errors, stream management
	// and XEP-0322 itself; STARTTLS and SASL are done by then) instead of
	// every schema of Schemas: some 200 bytes fewer per schema left out
	// in the setup and its answer, and a smaller grammar to build and
	// hold. Stanzas of other namespaces still pass, encoded without their
	// schema (not with Strict). The alternative binding names its schemas
	// by an ID alone, which a server can only know for the whole set, so
	// it always uses every schema.
	Namespaces []string
	// SchemaLocation, when set, is a URL prefix where the schemas of
	// Schemas are published under their file names: a server that lacks
	// one is asked to download it (XEP-0322 downloadSchema) rather than
	// sent its bytes, and only a failed download is followed by an
	// upload.
	SchemaLocation string
	// QuickFile, when set, keeps the XEP-0322 quick configuration (the
	// configurationId the server gave with the options agreed) across
	// restarts, so that the next login sends a short setup instead of
	// the schema list; it is used only with the same account, server
	// and proposal, and removed when the server refuses it.
	QuickFile string

	quick *exiQuick // the last agreed setup, kept by the session
}

// EXIParams are the options of one EXI stream as XEP-0322's setup and
// setupResponse carry them.
type EXIParams struct {
	Alignment              exi.Alignment
	Strict                 bool
	BlockSize              int  // 0: EXI default
	ValueMaxLength         int  // -1: unbounded
	ValuePartitionCapacity int  // -1: unbounded
	SessionWideBuffers     bool // XEP-0322 sessionWideBuffers
	Schemas                []xmppschema.Schema
	Missing                []xmppschema.Schema // setupResponse only
	Agreement              bool
	ConfigurationID        string
}

// coreNamespaces are the namespaces of every XEP-0322 stream after the
// negotiated switch to EXI.
var coreNamespaces = []string{NSStream, NSClient, NSEXI, NSSM,
	"urn:ietf:params:xml:ns:xmpp-stanzas", "urn:ietf:params:xml:ns:xmpp-streams"}

// Params returns the setup proposal of c.
func (c EXIConfig) Params(set *xmppschema.Set) (EXIParams, error) {
	p := EXIParams{Alignment: c.Alignment, Strict: c.Strict && c.SchemaInformed, BlockSize: c.BlockSize,
		ValueMaxLength: c.ValueMaxLength, ValuePartitionCapacity: c.ValuePartitionCapacity,
		SessionWideBuffers: c.SessionWideBuffers}
	if p.ValueMaxLength == 0 {
		p.ValueMaxLength = 64
	}
	if p.ValuePartitionCapacity == 0 {
		p.ValuePartitionCapacity = 64
	}
	switch {
	case !c.SchemaInformed || set == nil:
	case c.Namespaces == nil || c.Mode == EXIAlternative:
		p.Schemas = set.All()
	default:
		list, err := set.Select(append(slices.Clone(coreNamespaces), c.Namespaces...)...)
		if err != nil {
			return EXIParams{}, fmt.Errorf("EXI schemas: %w", err)
		}
		p.Schemas = list
	}
	return p, nil
}

// Element returns p as a setup (name "setup") or setupResponse element.
func (p EXIParams) Element(name string) *Element {
	el := NewElement(NSEXI, name, "version", "1")
	switch p.Alignment {
	case exi.ByteAligned:
		el.Set("alignment", "byte-alignment")
	case exi.PreCompression:
		el.Set("alignment", "pre-compression")
	case exi.Compression:
		el.Set("compression", "true")
	}
	if p.Strict {
		el.Set("strict", "true")
	}
	if p.BlockSize > 0 {
		el.Set("blockSize", strconv.Itoa(p.BlockSize))
	}
	if p.ValueMaxLength > 0 {
		el.Set("valueMaxLength", strconv.Itoa(p.ValueMaxLength))
	}
	if p.ValuePartitionCapacity > 0 {
		el.Set("valuePartitionCapacity", strconv.Itoa(p.ValuePartitionCapacity))
	}
	if p.SessionWideBuffers {
		el.Set("sessionWideBuffers", "true")
	}
	if name == "setupResponse" {
		el.Set("agreement", strconv.FormatBool(p.Agreement))
	}
	if p.ConfigurationID != "" {
		el.Set("configurationId", p.ConfigurationID)
	}
	for _, sc := range p.Schemas {
		el.Add(NewElement(NSEXI, "schema", "ns", sc.NS, "bytes", strconv.Itoa(sc.Bytes), "md5Hash", sc.MD5))
	}
	for _, sc := range p.Missing {
		el.Add(NewElement(NSEXI, "missingSchema", "ns", sc.NS, "bytes", strconv.Itoa(sc.Bytes), "md5Hash", sc.MD5))
	}
	return el
}

// ParseEXIParams reads a setup or setupResponse element.
func ParseEXIParams(el *Element) (EXIParams, error) {
	p := EXIParams{ValueMaxLength: exi.Unbounded, ValuePartitionCapacity: exi.Unbounded}
	boolAttr := func(name string) (bool, error) {
		switch v := el.Get(name); v {
		case "", "false", "0":
			return false, nil
		case "true", "1":
			return true, nil
		default:
			return false, fmt.Errorf("exi %s: bad %s %q", el.Name.Local, name, v)
		}
	}
	intAttr := func(name string, def int) (int, error) {
		v := el.Get(name)
		if v == "" {
			return def, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("exi %s: bad %s %q", el.Name.Local, name, v)
		}
		return n, nil
	}
	var err error
	if v := el.Get("version"); v != "" && v != "1" {
		return p, fmt.Errorf("exi %s: unsupported version %q", el.Name.Local, v)
	}
	switch v := el.Get("alignment"); v {
	case "", "bit-packed":
	case "byte-alignment":
		p.Alignment = exi.ByteAligned
	case "pre-compression":
		p.Alignment = exi.PreCompression
	default:
		return p, fmt.Errorf("exi %s: bad alignment %q", el.Name.Local, v)
	}
	comp, err := boolAttr("compression")
	if err != nil {
		return p, err
	}
	if comp {
		p.Alignment = exi.Compression
	}
	if p.Strict, err = boolAttr("strict"); err != nil {
		return p, err
	}
	if p.Agreement, err = boolAttr("agreement"); err != nil {
		return p, err
	}
	if p.SessionWideBuffers, err = boolAttr("sessionWideBuffers"); err != nil {
		return p, err
	}
	for _, a := range []string{"preserveComments", "preservePIs", "preserveDTD", "preservePrefixes", "preserveLexical", "selfContained"} {
		if on, err := boolAttr(a); err != nil {
			return p, err
		} else if on {
			return p, fmt.Errorf("exi %s: %s is not supported", el.Name.Local, a)
		}
	}
	if p.BlockSize, err = intAttr("blockSize", 0); err != nil {
		return p, err
	}
	if p.ValueMaxLength, err = intAttr("valueMaxLength", exi.Unbounded); err != nil {
		return p, err
	}
	if p.ValuePartitionCapacity, err = intAttr("valuePartitionCapacity", exi.Unbounded); err != nil {
		return p, err
	}
	p.ConfigurationID = el.Get("configurationId")
	for _, c := range el.Children() {
		if c.Name.Space != NSEXI || (c.Name.Local != "schema" && c.Name.Local != "missingSchema") {
			continue
		}
		n, err := strconv.Atoi(c.Get("bytes"))
		if err != nil || n <= 0 || c.Get("ns") == "" && c.Get("md5Hash") == "" {
			return p, fmt.Errorf("exi %s: bad schema identification %s", el.Name.Local, c)
		}
		sc := xmppschema.Schema{NS: c.Get("ns"), Bytes: n, MD5: c.Get("md5Hash")}
		if c.Name.Local == "schema" {
			p.Schemas = append(p.Schemas, sc)
		} else {
			p.Missing = append(p.Missing, sc)
		}
	}
	return p, nil
}

// Options returns the EXI codec options for a stream with parameters p.
// Schema-informed streams compile (or take from the cache of set) the
// canonical schema of p.Schemas. lim bounds what a decoder accepts.
func (p EXIParams) Options(set *xmppschema.Set, maxStanza int64) (exi.Options, error) {
	o := exi.DefaultOptions()
	o.Alignment = p.Alignment
	o.Strict = p.Strict
	o.BlockSize = p.BlockSize
	o.ValueMaxLength = p.ValueMaxLength
	o.ValuePartitionCapacity = p.ValuePartitionCapacity
	o.SessionWideBuffers = p.SessionWideBuffers
	o.SchemaIDNil = true
	if len(p.Schemas) > 0 {
		if set == nil {
			return o, errors.New("exi: schema-informed stream without a schema set")
		}
		g, err := set.Grammars(p.Schemas)
		if err != nil {
			return o, err
		}
		o.Schema, o.SchemaID, o.SchemaIDNil = g, xmppschema.ID(p.Schemas), false
	}
	if set != nil {
		o.SchemaResolver = func(id string) (*schema.Grammars, error) {
			if id == "" {
				return nil, fmt.Errorf("xsd-types-only streams are not used on XMPP: %w", exi.ErrUnsupported)
			}
			return set.Resolve(id)
		}
	}
	if maxStanza <= 0 {
		maxStanza = 256 << 10
	}
	o.Limits = exi.Limits{
		MaxStringTableEntries: 1 << 14,
		MaxValueLength:        int(maxStanza),
		MaxDepth:              64,
		MaxEvents:             maxStanza,
		MaxOutput:             4 * maxStanza,
	}
	return o, nil
}

// EXIWriter writes XMPP elements as EXI bodies, one standalone EXI
// document per element as XEP-0322 §"Transmission of EXI bodies" asks.
// With sessionWideBuffers (exi.Options.SessionWideBuffers) the documents
// share their string tables; a body with a header (a streamStart on the
// alternative binding) starts them afresh, and after a body that failed
// to encode the writer refuses the following ones (exi.ErrSession), as
// the peer's tables no longer match: the stream must end.
type EXIWriter struct {
	opts exi.Options
	enc  *exi.Encoder
	ns   string // the stream's default namespace
	toks []xml.Token
}

// NewEXIWriter returns a writer encoding with opts; elements with an empty
// namespace at the top are in ns (jabber:client).
func NewEXIWriter(opts exi.Options, ns string) *EXIWriter {
	opts.Header = exi.HeaderOptions{}
	return &EXIWriter{opts: opts, ns: ns}
}

// Append encodes el as one EXI document at the end of b. With header the
// document starts with the EXI cookie and carries the options document
// (used for streamStart on the alternative binding).
func (w *EXIWriter) Append(b *bytes.Buffer, el *Element, header bool) error {
	opts := w.opts
	if header {
		opts.Header = exi.HeaderOptions{Cookie: true, Options: true, SchemaID: true}
	}
	var err error
	if w.enc == nil {
		w.enc, err = exi.NewEncoder(b, opts)
	} else {
		err = w.enc.Reset(b, opts)
	}
	if err != nil {
		return fmt.Errorf("exi encoder: %w", err)
	}
	w.toks = w.toks[:0]
	appendResolved(&w.toks, el, w.ns)
	for _, t := range w.toks {
		if err := w.enc.EncodeToken(t); err != nil {
			return fmt.Errorf("exi: encode <%s>: %w", el.Name.Local, err)
		}
	}
	if err := w.enc.Close(); err != nil {
		return fmt.Errorf("exi: encode <%s>: %w", el.Name.Local, err)
	}
	return nil
}

// appendResolved appends the tokens of el with every empty element
// namespace replaced by the inherited one.
func appendResolved(toks *[]xml.Token, el *Element, parent string) {
	name := el.Name
	if name.Space == "" {
		name.Space = parent
	}
	attrs, copied := el.Attr, false
	for i, a := range attrs {
		if a.Name.Space == "xml" {
			if !copied {
				attrs, copied = slices.Clone(el.Attr), true
			}
			attrs[i].Name.Space = NSXML
		}
	}
	*toks = append(*toks, xml.StartElement{Name: name, Attr: attrs})
	for _, n := range el.Nodes {
		switch v := n.(type) {
		case *Element:
			appendResolved(toks, v, name.Space)
		case xml.CharData:
			*toks = append(*toks, v)
		}
	}
	*toks = append(*toks, xml.EndElement{Name: name})
}

// EXIReader reads EXI bodies, one XMPP element each, from a connection.
// It never reads past the end of the current body, so the connection can
// change hands (TLS) between bodies. With sessionWideBuffers the bodies
// share their string tables, which a body with the EXI cookie or an
// options document starts afresh.
type EXIReader struct {
	br    *bufio.Reader
	one   oneByteReader
	dec   *exi.Decoder
	opts  exi.Options
	depth int
}

// oneByteReader hands the decoder one byte per Read, so that it never
// buffers bytes of the next body.
type oneByteReader struct{ br *bufio.Reader }

func (o *oneByteReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c, err := o.br.ReadByte()
	if err != nil {
		return 0, err
	}
	p[0] = c
	return 1, nil
}

// ReadByte lets a DEFLATE reader read exactly what it needs.
func (o *oneByteReader) ReadByte() (byte, error) { return o.br.ReadByte() }

// NewEXIReader returns a reader of EXI bodies from r with options opts
// (an options document in a body's header overrides them for that body).
func NewEXIReader(r io.Reader, opts exi.Options) *EXIReader {
	x := &EXIReader{br: bufio.NewReaderSize(r, 4096), opts: opts, depth: 64}
	x.one.br = x.br
	return x
}

// StartsWithXML reports whether the next input byte is '<': a peer that
// answers in XML where EXI was expected. It waits for that byte.
func (x *EXIReader) StartsWithXML() bool {
	b, err := x.br.Peek(1)
	return err == nil && b[0] == '<'
}

// SetOptions changes the options of the following bodies.
func (x *EXIReader) SetOptions(opts exi.Options) { x.opts = opts }

// Buffered reports whether bytes of a next body are already buffered.
func (x *EXIReader) Buffered() int { return x.br.Buffered() }

// Next reads one body and returns its element and the options it was
// decoded with (those of its header when it had an options document).
// Bad EXI is reported as a *StreamError to send; a lost connection as the
// I/O error.
func (x *EXIReader) Next() (*Element, exi.Options, error) {
	if x.dec == nil {
		x.dec = exi.NewDecoder(&x.one, x.opts)
	} else {
		x.dec.Reset(&x.one, x.opts)
	}
	// Wait for the first byte outside the decoder, so that a closed
	// connection between bodies is a clean end rather than bad EXI.
	if _, err := x.br.Peek(1); err != nil {
		return nil, x.opts, err
	}
	tok, err := x.dec.Token()
	if err != nil {
		return nil, x.opts, exiErr(err)
	}
	start, ok := tok.(xml.StartElement)
	if !ok {
		return nil, x.opts, &StreamError{Condition: "not-well-formed", Text: fmt.Sprintf("EXI body does not start with an element (%T)", tok)}
	}
	el, err := ReadElement(x.dec, start, Limits{MaxDepth: x.depth})
	if err != nil {
		return nil, x.opts, exiErr(err)
	}
	if tok, err := x.dec.Token(); err != io.EOF {
		if err == nil {
			err = fmt.Errorf("content after the root element (%T)", tok)
		}
		return nil, x.opts, exiErr(err)
	}
	opts, _ := x.dec.Options()
	return el, opts, nil
}

// exiErr maps decoding errors to the stream error to send, or to the I/O
// error of a lost connection.
func exiErr(err error) error {
	var le *exi.LimitError
	var se *StreamError
	switch {
	case errors.As(err, &se):
		return se
	case errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, exi.ErrMalformed):
		return io.ErrUnexpectedEOF
	case errors.Is(err, ErrTooDeep), errors.As(err, &le), errors.Is(err, exi.ErrLimit):
		return &StreamError{Condition: "policy-violation", Text: err.Error()}
	case errors.Is(err, ErrRestrictedXML):
		return &StreamError{Condition: "restricted-xml", Text: "comments, processing instructions and DTDs are not allowed"}
	}
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) {
		return err
	}
	return &StreamError{Condition: "not-well-formed", Text: "bad EXI: " + err.Error()}
}

// EXIStreamStart returns the XEP-0322 streamStart element that replaces
// the <stream:stream> header, with attrs as name/value pairs (to, from,
// id, version) and the namespace declarations of an XMPP stream in ns.
func EXIStreamStart(ns string, attrs ...string) *Element {
	el := NewElement(NSEXI, "streamStart", attrs...)
	el.Attr = append(el.Attr, xml.Attr{Name: xml.Name{Space: NSXML, Local: "lang"}, Value: "en"})
	el.Add(NewElement(NSEXI, "xmlns", "prefix", "stream", "namespace", NSStream),
		NewElement(NSEXI, "xmlns", "prefix", "", "namespace", ns),
		NewElement(NSEXI, "xmlns", "prefix", "exi", "namespace", NSEXI))
	return el
}

// IsEXI reports whether el is the XEP-0322 element local.
func IsEXI(el *Element, local string) bool {
	return el != nil && el.Name.Space == NSEXI && el.Name.Local == local
}

// Element returns the <stream:error/> element of e.
func (e *StreamError) Element() *Element { return e.element() }
