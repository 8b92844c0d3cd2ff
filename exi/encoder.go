package exi

import (
	"encoding/xml"
	"fmt"
	"io"

	"github.com/klauspost/compress/flate"

	"github.com/xiot/xiot/exi/schema"
)

// Encoder writes an EXI stream from XML tokens.
//
// Names are expected resolved, as xml.Decoder.Token returns them: the
// namespace URI in Name.Space, namespace declarations as attributes named
// xmlns:p (Space "xmlns") or xmlns (Space "", Local "xmlns").
type Encoder struct {
	out   io.Writer
	opts  Options
	lv    *levels
	lvKey levelsOpts
	t     *tables
	sg    *sgrammar // schema-informed grammars, nil when schema-less
	spare *tables   // the tables of the previous stream, reused by Reset
	w     bitWriter

	stack  []eframe
	state  gstate // state when the stack is empty
	saved  []savedCtx
	scSet  map[QName]bool
	ns     []nsDecl
	text   []byte
	ws     bool // text is whitespace only
	simple bool // no child element since the current start tag
	attrs  []attrItem
	order  []uint8 // schemaStart: attribute indices in schema order
	decls  []nsDecl

	// pre-compression and compression
	chans   []*channel
	nvalues int
	vw      bitWriter
	obuf    []byte // finished output not yet written

	started, closed bool
	err             error

	sess session // sessionWideBuffers state

	lim    Limits        // resolved opts.Limits
	zw     *flate.Writer // reused DEFLATE compressor
	zlevel int           // the CompressionLevel zw was made for
	zout   appendWriter  // zw's output: appends to obuf
}

type eframe struct {
	ln      *localName
	sc      sctx // schema-informed grammar state; sc.gi == 0 for built-in grammars
	state   gstate
	scOuter bool // the element was written as SC; its content is in fresh tables
	scInner bool // the copy of an SC element inside its fragment
	nsMark  int
	space   bool // xml:space="preserve" in scope

	// hint is the index in ln.elem.stc of the production to try first
	// for the next AT or SE in the start tag (documents repeat their
	// attributes in the same order); first is set until the first match.
	hint  int32
	first bool
	// hintEC is the index in ln.elem.ec of the last child's SE production
	// (siblings repeat), tried first for the next child.
	hintEC int32
}

type nsDecl struct{ prefix, uri string }

// savedCtx is the outer context of a self-contained element.
type savedCtx struct {
	t     *tables
	state gstate
}

type attrItem struct {
	uri, local, prefix, value string
}

// channel collects the values of one qname in a block (§9.2).
type channel struct {
	ln   *localName
	pos  int // decoder: next value to hand out
	vals []string
	dts  []int32 // datatype of each value (schema-informed streams)

	// The encoder of a schema-informed stream writes a typed value whose
	// encoding needs no string table (all but strings and QNames) into
	// enc as it comes, byte-aligned; vals then holds only the values
	// deferred to the end of the block, at[i] being where in enc vals[i]
	// goes. n counts both kinds.
	enc bitWriter
	at  []int32
	n   int
}

// NewEncoder returns an Encoder that writes an EXI stream with options
// opts to w. Nothing is written until the first token or Close.
func NewEncoder(w io.Writer, opts Options) (*Encoder, error) {
	e := &Encoder{}
	if err := e.Reset(w, opts); err != nil {
		return nil, err
	}
	return e, nil
}

// Reset discards all state and prepares e to write a new stream to w,
// reusing its buffers.
func (e *Encoder) Reset(w io.Writer, opts Options) error {
	if opts.Preserve.Prefixes || opts.Preserve.DTD || opts.Preserve.Comments || opts.Preserve.PIs || opts.SelfContained {
		if opts.Strict {
			return fmt.Errorf("exi: strict cannot be combined with preserve options or selfContained: %w", ErrInvalid)
		}
	}
	if opts.CompressionLevel != 0 && (opts.CompressionLevel < MinCompressionLevel || opts.CompressionLevel > MaxCompressionLevel) {
		return fmt.Errorf("exi: compression level %d outside %d..%d: %w", opts.CompressionLevel, MinCompressionLevel, MaxCompressionLevel, ErrInvalid)
	}
	if opts.SelfContained && opts.Alignment >= PreCompression {
		return fmt.Errorf("exi: selfContained with %v: %w", opts.Alignment, ErrUnsupported)
	}
	e.out, e.opts = w, opts
	e.lim = opts.Limits.resolved()
	if key := levelsKey(&e.opts); e.lv == nil || key != e.lvKey {
		e.lv, e.lvKey = buildLevels(&e.opts), key
	}
	sg, err := prepareSchema(e.sg, opts.Schema, &e.opts)
	if err != nil {
		return err
	}
	e.sg = sg
	e.sess.end(!e.started || (e.closed && e.err == nil))
	keep, err := e.sess.next(opts.SessionWideBuffers, opts.Header.Cookie || opts.Header.Options, e.sessionKey())
	if err != nil {
		e.err = err
		return err
	}
	if keep {
		e.t = e.spare
	} else {
		e.t = e.mainTables()
		e.t.session = opts.SessionWideBuffers
	}
	e.w.reset(opts.Alignment != BitPacked)
	e.vw.reset(true)
	e.stack, e.saved, e.ns, e.text = e.stack[:0], e.saved[:0], e.ns[:0], e.text[:0]
	e.state = stDocContent
	if opts.Fragment {
		e.state = stFragment
	}
	e.scSet = nil
	if opts.SelfContained {
		e.scSet = make(map[QName]bool, len(opts.SelfContainedElements))
		for _, q := range opts.SelfContainedElements {
			e.scSet[q] = true
		}
	}
	e.chans, e.nvalues, e.obuf = e.chans[:0], 0, e.obuf[:0]
	e.started, e.closed, e.err = false, false, nil
	return nil
}

// mainTables returns the string tables for a new stream, reusing those of
// the previous stream when they were built for the same grammars.
func (e *Encoder) mainTables() *tables {
	var want any
	if e.sg != nil {
		want = e.sg.orig
	}
	if t := e.spare; t != nil && t.schema == want {
		t.reset()
		return t
	}
	e.spare = e.newTables()
	return e.spare
}

// sessionKey is what must not change while tables are kept.
func (e *Encoder) sessionKey() sessionKey {
	k := sessionKey{lv: e.lvKey, vml: e.opts.ValueMaxLength, vpc: e.opts.ValuePartitionCapacity, frag: e.opts.Fragment}
	if e.sg != nil {
		k.schema = e.sg
	}
	return k
}

func (e *Encoder) newTables() *tables {
	if e.sg != nil {
		return newSchemaTables(true, e.sg.g)
	}
	return newTables(true)
}

func (e *Encoder) start() {
	if e.started {
		return
	}
	e.started = true
	hw := bitWriter{buf: e.obuf[:0]}
	writeHeader(&hw, &e.opts)
	if !e.channels() {
		e.w.buf, e.w.acc, e.w.n = append(e.w.buf[:0], hw.buf...), hw.acc, hw.n
		return
	}
	e.obuf = hw.buf
}

func (e *Encoder) channels() bool { return e.opts.Alignment >= PreCompression }

// curState returns the grammar state and its learned productions.
func (e *Encoder) curState() (gstate, *[]prod) {
	if n := len(e.stack); n > 0 && !e.stack[n-1].scOuter {
		f := &e.stack[n-1]
		if f.sc.gi != 0 {
			return f.state, nil
		}
		if f.state == stStartTag {
			return stStartTag, &f.ln.elem.stc
		}
		return stContent, &f.ln.elem.ec
	}
	if e.state == stFragment && e.sg == nil {
		return stFragment, &e.t.frag.stc
	}
	return e.state, nil
}

// docList returns the SE(G_i) or SE(F_i) productions of the schema-informed
// document or fragment grammar when the encoder is in it.
func (e *Encoder) docList() []schema.QName {
	if e.sg == nil {
		return nil
	}
	if n := len(e.stack); n > 0 && !e.stack[n-1].scOuter {
		return nil
	}
	switch e.state {
	case stDocContent:
		return e.sg.doc
	case stFragment:
		return e.sg.frag
	}
	return nil
}

// writeCode writes the event code of kind (with qname ln for SE and AT)
// in the current state and learns a production when §8.4.3 says so.
func (e *Encoder) writeCode(kind evKind, ln *localName) (learned bool, err error) {
	st, g := e.curState()
	L := &e.lv[st]
	ng := len(e.docList())
	if g != nil {
		ng = len(*g)
		if c := findProd(*g, kind, ln); c >= 0 {
			e.w.writeNBit(uint64(c), bitsFor(ng+len(L[0])))
			return true, nil
		}
	}
	for lvl := 0; lvl < 3; lvl++ {
		l, off, n := L[lvl], 0, len(L[lvl])
		if lvl == 0 {
			off, n = ng, ng+len(L[0])
		}
		if i := indexKind(l, kind); i >= 0 {
			e.w.writeNBit(uint64(off+i), bitsFor(n))
			return false, nil
		}
		j := indexKind(l, evEsc)
		if j < 0 {
			break
		}
		e.w.writeNBit(uint64(off+j), bitsFor(n))
	}
	return false, fmt.Errorf("exi: event %d not allowed here by the options: %w", kind, ErrInvalid)
}

// learn adds the production for an event matched at a non-first level.
func (e *Encoder) learn(kind evKind, ln *localName) {
	st, g := e.curState()
	if g == nil {
		return
	}
	switch {
	case st == stStartTag && (kind == evSE || kind == evAT || kind == evCH || kind == evEE),
		st == stContent && (kind == evSE || kind == evCH),
		st == stFragment && kind == evSE:
		if kind == evCH || kind == evEE {
			ln = nil
		}
		*g = append(*g, prod{kind: kind, ln: ln})
		e.t.learned()
	}
}

// event writes the code of an event that takes no qname.
func (e *Encoder) event(kind evKind) error {
	if f := e.schemaTop(); f != nil {
		return e.schemaEvent(f, kind)
	}
	l, err := e.writeCode(kind, nil)
	if err != nil {
		return err
	}
	if !l {
		e.learn(kind, nil)
	}
	return nil
}

// qnameEvent writes an SE or AT event with its qname and prefix.
func (e *Encoder) qnameEvent(kind evKind, uri, local, prefix string) (*localName, error) {
	var ln *localName
	// Fast path: a production learned in the current grammar, most recent
	// first (documents repeat their structure), found without map lookups;
	// its event code is its distance from the end.
	if st, g := e.curState(); g != nil {
		ps := *g
		var f *eframe
		i := -1
		if st == stStartTag || st == stContent {
			f = &e.stack[len(e.stack)-1]
			h := int(f.hint)
			if st == stContent {
				h = int(f.hintEC)
			}
			if h < len(ps) {
				if p := ps[h]; p.kind == kind && p.ln != nil && p.ln.name == local && p.ln.uri.name == uri {
					i = h
				}
			}
		}
		if i < 0 {
			for j := len(ps) - 1; j >= 0; j-- {
				if p := ps[j]; p.kind == kind && p.ln != nil && p.ln.name == local && p.ln.uri.name == uri {
					i = j
					break
				}
			}
		}
		if i >= 0 {
			if st == stContent {
				f.hintEC = int32(i)
			} else if f != nil {
				if f.first {
					f.ln.elem.first, f.first = int32(i), false
				}
				f.hint = int32(i + 1)
			}
			ln := ps[i].ln
			e.w.writeNBit(uint64(len(ps)-1-i), bitsFor(len(ps)+len(e.lv[st][0])))
			if e.opts.Preserve.Prefixes {
				encodePrefix(&e.w, ln.uri, prefix)
			}
			return ln, nil
		}
	}
	if ln == nil {
		if u := e.t.uriIdx[uri]; u != nil {
			ln = u.localIdx[local]
		}
	}
	learned := false
	if ln != nil {
		var err error
		if learned, err = e.writeCode(kind, ln); err != nil {
			return nil, err
		}
		if !learned {
			e.t.encodeQName(&e.w, uri, local)
		}
	} else {
		if _, err := e.writeCode(kind, nil); err != nil {
			return nil, err
		}
		ln = e.t.encodeQName(&e.w, uri, local)
	}
	if !learned {
		e.learn(kind, ln)
	}
	if e.opts.Preserve.Prefixes {
		encodePrefix(&e.w, ln.uri, prefix)
	}
	return ln, nil
}

// value writes a value content item of datatype dt (dtString for
// untyped), or queues it in its channel.
func (e *Encoder) value(ln *localName, s string, dt int) {
	if !e.channels() {
		if e.sg != nil {
			e.writeTyped(&e.w, ln, dt, s)
		} else {
			e.t.encodeValue(&e.w, &e.opts, ln, s, nil)
		}
		return
	}
	if ln.ch == nil {
		ln.ch = ln.channel()
		e.chans = append(e.chans, ln.ch)
	}
	c := ln.ch
	c.n++
	c.vals = append(c.vals, s)
	if e.sg != nil { // schema-less channels are untyped
		c.dts = append(c.dts, int32(dt))
		c.at = append(c.at, int32(len(c.enc.buf)))
	}
	e.counted()
}

// counted counts a value of the current block and closes the block at
// blockSize values (§9.1).
func (e *Encoder) counted() {
	if e.nvalues++; e.nvalues == e.opts.blockSize() {
		e.closeBlock()
	}
}

func (e *Encoder) fail(err error) error {
	if e.err == nil {
		e.err = err
	}
	return e.err
}

// EncodeToken encodes one token: xml.StartElement, xml.EndElement,
// xml.CharData, xml.Comment, xml.ProcInst or xml.Directive (DOCTYPE).
// Comments, PIs and DOCTYPEs are dropped unless preserved; the XML
// declaration is dropped. Whitespace-only character data is dropped
// between tags unless Preserve.LexicalValues or xml:space="preserve"
// applies, as the reference encoder does.
func (e *Encoder) EncodeToken(tok xml.Token) error {
	if e.err != nil {
		return e.err
	}
	if e.closed {
		return fmt.Errorf("exi: EncodeToken after Close: %w", ErrInvalid)
	}
	if !e.started {
		e.start()
	}
	var err error
	switch t := tok.(type) {
	case xml.CharData:
		if len(e.text) == 0 {
			e.ws = true
		}
		e.text = append(e.text, t...)
		if e.ws && !isSpace(t) {
			e.ws = false
		}
		return nil
	case xml.StartElement:
		if len(e.text) > 0 {
			err = e.flushText(evSE)
		}
		if err == nil {
			err = e.startElement(&t, nil)
		}
	case xml.EndElement:
		if len(e.text) > 0 {
			err = e.flushText(evEE)
		}
		if err == nil {
			err = e.endElement()
		}
	case xml.Comment:
		if !e.opts.Preserve.Comments {
			return nil
		}
		if err = e.flushText(evCM); err == nil {
			err = e.comment(string(t))
		}
	case xml.ProcInst:
		if t.Target == "xml" || !e.opts.Preserve.PIs {
			return nil
		}
		if err = e.flushText(evPI); err == nil {
			err = e.procInst(t.Target, string(t.Inst))
		}
	case xml.Directive:
		if !e.opts.Preserve.DTD {
			return nil
		}
		if err = e.flushText(evDT); err == nil {
			err = e.doctype(string(t))
		}
	default:
		return fmt.Errorf("exi: cannot encode token %T: %w", tok, ErrInvalid)
	}
	if err != nil {
		return e.fail(err)
	}
	return nil
}

func isSpace(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

// flushText encodes buffered character data before an event of kind next.
func (e *Encoder) flushText(next evKind) error {
	if len(e.text) == 0 {
		return nil
	}
	defer func() { e.text = e.text[:0] }()
	if len(e.stack) == 0 {
		return nil // character data outside the root element is not encodable
	}
	if e.ws && !e.opts.Preserve.LexicalValues && !e.stack[len(e.stack)-1].space {
		if !e.simple || next == evSE {
			return nil
		}
	}
	if f := e.schemaTop(); f != nil {
		return e.schemaCH(f, string(e.text))
	}
	if err := e.event(evCH); err != nil {
		return err
	}
	f := &e.stack[len(e.stack)-1]
	e.value(f.ln, string(e.text), dtString)
	f.state = stContent
	return nil
}
