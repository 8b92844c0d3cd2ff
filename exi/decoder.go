package exi

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"fmt"
	"io"

	"github.com/xiot/xiot/exi/schema"
)

// event is one decoded EXI event.
type event struct {
	kind   evKind
	ln     *localName // SE, AT: the qname; CH: the element
	prefix string     // SE, AT, NS prefix; PI target; DT name
	uri    string     // NS uri
	local  bool       // NS local-element-ns
	value  string     // AT, CH value; CM text; PI data; DT subset; ER name
	pub    string     // DT public id
	sys    string     // DT system id;
	tq     *localName // xsi:type value

	inChannel bool // the value comes from a value channel (pre-compression)
}

type dframe struct {
	ln      *localName
	sc      sctx // schema-informed grammar state; sc.gi == 0 for built-in grammars
	state   gstate
	scOuter bool
	scInner bool
	nsMark  int // d.nsScope length before the element's NS events
}

// Decoder reads XML tokens from an EXI stream. It implements
// xml.TokenReader. Tokens it returns, and the byte slices in them, are
// valid only until the next call to Token.
type Decoder struct {
	opts  Options
	lim   Limits
	lv    *levels
	lvKey levelsOpts
	t     *tables
	sg    *sgrammar        // schema-informed grammars, nil when schema-less
	spare *tables          // the tables of the previous stream, reused by Reset
	xsd   *schema.Grammars // built-in types, compiled on first use
	r     bitReader
	src   io.Reader
	stack []dframe
	state gstate
	saved []savedCtx

	started bool
	done    bool
	err     error
	events  int64
	output  int64
	hi      headerInfo

	q    []event
	qpos int

	// token assembly
	attrs   []xml.Attr
	cd      []byte
	names   []*localName // open elements
	nsScope []nsDecl     // namespace declarations in scope (NS events)

	// pre-compression and compression
	nvalues int
	chans   []*channel

	zr    io.ReadCloser // reused DEFLATE decompressor
	zbuf  bytes.Buffer
	zin   *bufio.Reader // compressed input after the header, read by the decompressor byte by byte
	zsrc  countReader   // what zin reads from
	zrest []byte        // header-read bytes that belong to the body

	sess session // sessionWideBuffers state

	trace func(ev *event, bitOffset int64) // debugging hook, nil normally
}

// NewDecoder returns a Decoder reading an EXI stream from r. opts are the
// options negotiated out of band; when the stream's header carries an
// options document, that document's options are used instead.
func NewDecoder(r io.Reader, opts Options) *Decoder {
	d := &Decoder{}
	d.Reset(r, opts)
	return d
}

// Reset prepares d to read a new stream from r, reusing its buffers.
func (d *Decoder) Reset(r io.Reader, opts Options) {
	d.sess.end(!d.started || (d.err == nil && d.state == stDone))
	d.opts = opts
	d.lim = opts.Limits.resolved()
	d.src = r
	d.r.reset(r, d.r.buf[:0])
	d.r.aligned = false
	d.r.limits = &d.lim
	d.stack, d.saved, d.q, d.qpos = d.stack[:0], d.saved[:0], d.q[:0], 0
	d.started, d.done, d.err = false, false, nil
	d.events, d.output = 0, 0
	d.nvalues, d.chans = 0, d.chans[:0]
	d.names, d.nsScope = d.names[:0], d.nsScope[:0]
}

// Options returns the options in force for the body, after the header has
// been read (they come from the header when it has an options document).
func (d *Decoder) Options() (Options, error) {
	if err := d.begin(); err != nil {
		return Options{}, err
	}
	return d.opts, nil
}

func (d *Decoder) begin() error {
	if d.started {
		return d.err
	}
	d.started = true
	hi, err := readHeader(&d.r, &d.opts)
	if err != nil {
		return d.setErr(fmt.Errorf("header: %w", err))
	}
	d.hi = hi
	if d.opts.Fragment && d.opts.Preserve.DTD {
		// DT is not part of the fragment grammar; nothing to do
	}
	if hi.hasSchemaID {
		switch {
		case d.opts.SchemaIDNil:
			d.opts.Schema = nil
		case d.opts.SchemaResolver != nil:
			g, err := d.opts.SchemaResolver(d.opts.SchemaID)
			if err != nil {
				return d.setErr(fmt.Errorf("exi: schemaId %q: %w", d.opts.SchemaID, err))
			}
			d.opts.Schema = g
		case d.opts.SchemaID == "":
			if d.xsd == nil {
				d.xsd = schema.BuiltinTypes()
			}
			d.opts.Schema = d.xsd
		case d.opts.Schema == nil:
			return d.setErr(fmt.Errorf("exi: stream needs schema %q and none was given: %w", d.opts.SchemaID, ErrUnsupported))
		}
	}
	if key := levelsKey(&d.opts); d.lv == nil || key != d.lvKey {
		d.lv, d.lvKey = buildLevels(&d.opts), key
	}
	if d.sg, err = prepareSchema(d.sg, d.opts.Schema, &d.opts); err != nil {
		return d.setErr(err)
	}
	keep, err := d.sess.next(d.opts.SessionWideBuffers, hi.cookie || hi.hasOptions, d.sessionKey())
	if err != nil {
		return d.setErr(err)
	}
	if keep {
		d.t = d.spare
	} else {
		d.t = d.mainTables()
		d.t.session = d.opts.SessionWideBuffers
	}
	d.state = stDocContent
	if d.opts.Fragment {
		d.state = stFragment
	}
	d.r.aligned = d.opts.Alignment != BitPacked
	if d.opts.Alignment == Compression {
		// The DEFLATE streams are read one at a time from the rest of the
		// input; a byte reader keeps the decompressor from reading ahead.
		d.zrest = append(d.zrest[:0], d.r.buf[d.r.pos:]...)
		d.zsrc.r, d.zsrc.n = io.MultiReader(bytes.NewReader(d.zrest), d.src), d.r.off+int64(d.r.pos)
		if d.zin == nil {
			d.zin = bufio.NewReader(&d.zsrc)
		} else {
			d.zin.Reset(&d.zsrc)
		}
		d.r.reset(nil, nil)
	}
	return nil
}

// mainTables returns the string tables for a new stream, reusing those of
// the previous stream when they were built for the same grammars.
func (d *Decoder) mainTables() *tables {
	var want any
	if d.sg != nil {
		want = d.sg.orig
	}
	if t := d.spare; t != nil && t.schema == want {
		t.reset()
		return t
	}
	d.spare = d.newTables()
	return d.spare
}

// sessionKey is what must not change while tables are kept.
func (d *Decoder) sessionKey() sessionKey {
	k := sessionKey{lv: d.lvKey, vml: d.opts.ValueMaxLength, vpc: d.opts.ValuePartitionCapacity, frag: d.opts.Fragment}
	if d.sg != nil {
		k.schema = d.sg
	}
	return k
}

func (d *Decoder) newTables() *tables {
	if d.sg != nil {
		return newSchemaTables(false, d.sg.g)
	}
	return newTables(false)
}

// docList returns the SE(G_i) or SE(F_i) productions of the schema-informed
// document or fragment grammar when the decoder is in it.
func (d *Decoder) docList() ([]schema.QName, []int) {
	if d.sg == nil {
		return nil, nil
	}
	if n := len(d.stack); n > 0 && !d.stack[n-1].scOuter {
		return nil, nil
	}
	switch d.state {
	case stDocContent:
		return d.sg.doc, d.sg.docEl
	case stFragment:
		return d.sg.frag, d.sg.fragEl
	}
	return nil, nil
}

func (d *Decoder) setErr(err error) error {
	if d.err == nil {
		d.err = d.sess.explain(err)
	}
	return d.err
}

func (d *Decoder) curState() (gstate, *[]prod) {
	if n := len(d.stack); n > 0 && !d.stack[n-1].scOuter {
		f := &d.stack[n-1]
		if f.sc.gi != 0 {
			return f.state, nil
		}
		if f.state == stStartTag {
			return stStartTag, &f.ln.elem.stc
		}
		return stContent, &f.ln.elem.ec
	}
	if d.state == stFragment && d.sg == nil {
		return stFragment, &d.t.frag.stc
	}
	return d.state, nil
}

func (d *Decoder) malformed(format string, a ...any) error {
	return d.r.fail(fmt.Errorf(format+": %w", append(a, ErrMalformed)...))
}

// decodeEvent decodes the next event into ev, which must be zero. In
// channel modes values are left for the value channels (ev.ln says which).
func (d *Decoder) decodeEvent(ev *event) error {
	d.events++
	if d.events > d.lim.MaxEvents {
		return d.r.fail(&LimitError{Limit: "MaxEvents", Value: d.events, Max: d.lim.MaxEvents})
	}
	if d.sg != nil {
		if n := len(d.stack); n > 0 && !d.stack[n-1].scOuter && d.stack[n-1].sc.gi != 0 {
			if err := d.decodeSchemaEvent(ev, &d.stack[n-1]); err != nil {
				return err
			}
			return d.afterEvent(ev)
		}
	}
	st, g := d.curState()
	L := &d.lv[st]
	ng := 0
	if g != nil {
		ng = len(*g)
	}
	list, listEl := d.docList()
	n1 := ng + len(list) + len(L[0])
	c, err := d.r.readNBit(bitsFor(n1))
	if err != nil {
		return err
	}
	if int(c) >= n1 {
		return d.malformed("event code %d of %d", c, n1)
	}
	learned := false
	if int(c) < len(list) {
		q := list[c]
		ev.kind = evSE
		ev.ln = d.t.lookupLocal(q.URI, q.Local)
		return d.pushSE(ev, listEl[c])
	}
	c -= uint64(len(list))
	if int(c) < ng {
		p := (*g)[ng-1-int(c)]
		ev.kind, ev.ln, learned = p.kind, p.ln, true
	} else {
		idx, lvl := int(c)-ng, 0
		for {
			k := L[lvl][idx]
			if k != evEsc {
				ev.kind = k
				break
			}
			lvl++
			if lvl == 3 || len(L[lvl]) == 0 {
				return d.malformed("event code level %d", lvl)
			}
			v, err := d.r.readNBit(bitsFor(len(L[lvl])))
			if err != nil {
				return err
			}
			if int(v) >= len(L[lvl]) {
				return d.malformed("event code %d of %d", v, len(L[lvl]))
			}
			idx = int(v)
		}
	}
	learn := func() {
		if learned || g == nil {
			return
		}
		k, ln := ev.kind, ev.ln
		switch {
		case st == stStartTag && (k == evSE || k == evAT || k == evCH || k == evEE),
			st == stContent && (k == evSE || k == evCH),
			st == stFragment && k == evSE:
			if k == evCH || k == evEE {
				ln = nil
			}
			*g = append(*g, prod{kind: k, ln: ln})
			d.t.learned()
		}
	}
	switch ev.kind {
	case evSE:
		if !learned {
			if ev.ln, err = d.t.decodeQName(&d.r); err != nil {
				return err
			}
		}
		learn()
		if err := d.pushSE(ev, -1); err != nil {
			return err
		}
	case evAT:
		if !learned {
			if ev.ln, err = d.t.decodeQName(&d.r); err != nil {
				return err
			}
		}
		learn()
		if err := d.prefix(ev); err != nil {
			return err
		}
		if ev.ln.name == "type" && ev.ln.uri.name == nsXSI {
			// xsi:type values are QNames (§7.1.7)
			if err := d.typeValue(ev, &d.stack[len(d.stack)-1].sc); err != nil {
				return err
			}
			break
		}
		if err := d.value(ev, ev.ln, dtString); err != nil {
			return err
		}
	case evCH:
		learn()
		f := &d.stack[len(d.stack)-1]
		f.state = stContent
		ev.ln = f.ln
		if err := d.value(ev, f.ln, dtString); err != nil {
			return err
		}
	case evEE:
		learn()
		if len(d.stack) == 0 {
			return d.malformed("EE outside an element")
		}
		f := d.stack[len(d.stack)-1]
		d.stack = d.stack[:len(d.stack)-1]
		d.nsScope = d.nsScope[:f.nsMark]
		ev.ln = f.ln
		if f.scInner {
			if err := d.endSC(); err != nil {
				return err
			}
		}
		if len(d.stack) == 0 && d.state != stFragment {
			d.state = stDocEnd
		}
	case evNS:
		u, err := d.t.decodeURI(&d.r)
		if err != nil {
			return err
		}
		ev.uri = u.name
		if ev.prefix, err = d.t.decodeNSPrefix(&d.r, u); err != nil {
			return err
		}
		if ev.local, err = d.r.readBool(); err != nil {
			return err
		}
		d.nsScope = append(d.nsScope, nsDecl{ev.prefix, ev.uri})
	case evSC:
		if err := d.startSC(); err != nil {
			return err
		}
		ev.kind = evNone
	case evCM:
		if ev.value, err = d.r.readString(); err != nil {
			return err
		}
		d.afterMisc()
	case evPI:
		if ev.prefix, err = d.r.readString(); err != nil {
			return err
		}
		if ev.value, err = d.r.readString(); err != nil {
			return err
		}
		d.afterMisc()
	case evDT:
		for _, p := range []*string{&ev.prefix, &ev.pub, &ev.sys, &ev.value} {
			if *p, err = d.r.readString(); err != nil {
				return err
			}
		}
	case evER:
		if ev.value, err = d.r.readString(); err != nil {
			return err
		}
		d.afterMisc()
	case evED:
		d.state = stDone
	}
	return d.afterEvent(ev)
}

// afterEvent checks the string-table limit after an event.
func (d *Decoder) afterEvent(ev *event) error {
	if d.trace != nil {
		d.trace(ev, d.r.bitOffset())
	}
	if d.t.entries > d.lim.MaxStringTableEntries {
		return d.r.fail(&LimitError{Limit: "MaxStringTableEntries", Value: int64(d.t.entries), Max: int64(d.lim.MaxStringTableEntries)})
	}
	return nil
}

// startSC begins a self-contained element (§8.5.4.4.1, §6.1): the
// element's content is an EXI fragment with fresh string tables, starting
// on a byte boundary with the SE of a copy of the element.
func (d *Decoder) startSC() error {
	if d.opts.Alignment >= PreCompression {
		return d.r.fail(fmt.Errorf("self-contained element with %v: %w", d.opts.Alignment, ErrUnsupported))
	}
	d.stack[len(d.stack)-1].scOuter = true
	d.r.align()
	d.saved = append(d.saved, savedCtx{d.t, d.state})
	d.t, d.state = d.newTables(), stFragment
	var inner event
	if err := d.decodeEvent(&inner); err != nil {
		return err
	}
	if inner.kind != evSE {
		return d.malformed("self-contained fragment does not start with SE")
	}
	d.stack[len(d.stack)-1].scInner = true
	return nil
}

// endSC ends a self-contained element after the EE of its inner copy: ED
// of the fragment, alignment, and back to the outer tables.
func (d *Decoder) endSC() error {
	var end event
	if err := d.decodeEvent(&end); err != nil {
		return err
	}
	if end.kind != evED {
		return d.malformed("self-contained element not followed by ED")
	}
	d.r.align()
	sv := d.saved[len(d.saved)-1]
	d.t, d.state = sv.t, sv.state
	d.saved = d.saved[:len(d.saved)-1]
	d.stack = d.stack[:len(d.stack)-1]
	return nil
}

func (d *Decoder) afterMisc() {
	if n := len(d.stack); n > 0 && !d.stack[n-1].scOuter {
		d.stack[n-1].state = stContent
	}
}

func (d *Decoder) prefix(ev *event) error {
	if !d.opts.Preserve.Prefixes {
		return nil
	}
	u := ev.ln.uri
	id, err := decodePrefix(&d.r, u)
	if err != nil {
		return err
	}
	if len(u.prefixes) > 0 {
		ev.prefix = u.prefixes[id]
	}
	return nil
}

// pushSE finishes an SE event: prefix, depth limit, and the new element's
// grammar (declaration el, or -1 to look the name up).
func (d *Decoder) pushSE(ev *event, el int) error {
	if err := d.prefix(ev); err != nil {
		return err
	}
	if len(d.stack) >= d.lim.MaxDepth {
		return d.r.fail(&LimitError{Limit: "MaxDepth", Value: int64(len(d.stack) + 1), Max: int64(d.lim.MaxDepth)})
	}
	if n := len(d.stack); n > 0 && !d.stack[n-1].scOuter {
		d.stack[n-1].state = stContent
	}
	var sc sctx
	if d.sg != nil {
		if el < 0 {
			el = d.sg.globalElem(ev.ln)
		}
		sc = d.sg.ctxFor(el)
	}
	if sc.gi == 0 {
		d.t.elemOf(ev.ln)
	}
	d.stack = append(d.stack, dframe{ln: ev.ln, sc: sc, state: stStartTag, nsMark: len(d.nsScope)})
	return nil
}

// value decodes a value of datatype dt (dtString when untyped), or
// reserves its place in the value channel.
func (d *Decoder) value(ev *event, ln *localName, dt int) error {
	if d.opts.Alignment >= PreCompression {
		if ln.ch == nil {
			ln.ch = ln.channel()
			d.chans = append(d.chans, ln.ch)
		}
		ln.ch.vals = append(ln.ch.vals, "")
		ln.ch.dts = append(ln.ch.dts, int32(dt))
		d.nvalues++
		ev.inChannel = true
		return nil
	}
	var s string
	var err error
	if d.sg != nil {
		s, err = d.readTyped(ln, dt, 0)
	} else {
		s, err = d.t.decodeValue(&d.r, &d.opts, ln, nil)
	}
	if err != nil {
		return err
	}
	ev.value = s
	return d.count(len(s))
}

func (d *Decoder) count(n int) error {
	d.output += int64(n)
	if d.output > d.lim.MaxOutput {
		return d.r.fail(&LimitError{Limit: "MaxOutput", Value: d.output, Max: d.lim.MaxOutput})
	}
	return nil
}
