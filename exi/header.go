package exi

import (
	"fmt"
	"slices"

	"github.com/xiot/xiot/exi/schema"
)

// The options document (EXI §5.4, Appendix C) is encoded with strict
// schema-informed grammars of the options schema. Each complex element is a
// sequence of optional children, so a state is "the index of the next
// child that may occur": the productions are the remaining children in
// schema order, then EE. That hard-codes the grammar.

var (
	hdrHeader     = []string{"lesscommon", "common", "strict"}
	hdrLessCommon = []string{"uncommon", "preserve", "blockSize"}
	hdrUncommon   = []string{"alignment", "selfContained", "valueMaxLength", "valuePartitionCapacity", "datatypeRepresentationMap"}
	hdrPreserve   = []string{"dtd", "prefixes", "lexicalValues", "comments", "pis"}
	hdrCommon     = []string{"compression", "fragment", "schemaId"}
)

// seqWriter encodes children of one options-document element.
type seqWriter struct {
	w     *bitWriter
	items []string
	next  int
}

func (s *seqWriter) child(i int) {
	n := len(s.items) - s.next + 1
	s.w.writeBits(uint64(i-s.next), bitsFor(n))
	s.next = i
	if i < len(s.items)-1 || s.items[i] != "datatypeRepresentationMap" {
		s.next = i + 1
	}
}

func (s *seqWriter) end() {
	n := len(s.items) - s.next + 1
	s.w.writeBits(uint64(n-1), bitsFor(n))
}

func (o *Options) needUncommon() bool {
	return o.Alignment == ByteAligned || o.Alignment == PreCompression || o.SelfContained ||
		o.ValueMaxLength >= 0 || o.ValuePartitionCapacity >= 0 || len(o.DatatypeRepresentationMap) > 0
}

// hdrNames are the local names of the EXI namespace in the string table of
// the options document: the options schema's element names and the
// built-in datatype representations, sorted.
var hdrNames = []string{"alignment", "base64Binary", "blockSize", "boolean", "byte", "comments", "common",
	"compression", "datatypeRepresentationMap", "date", "dateTime", "decimal", "double", "dtd", "fragment",
	"gDay", "gMonth", "gMonthDay", "gYear", "gYearMonth", "header", "hexBinary", "ieeeBinary32",
	"ieeeBinary64", "integer", "lesscommon", "lexicalValues", "pis", "pre-compress", "prefixes", "preserve",
	"schemaId", "selfContained", "strict", "string", "time", "uncommon", "valueMaxLength",
	"valuePartitionCapacity"}

// hdrStrings is the string table of the options document, needed for the
// qnames of datatypeRepresentationMap entries, and which of those
// elements have learned their EE production (built-in grammars).
type hdrStrings struct {
	uris    []string
	locals  [][]string
	learned map[QName]bool
}

func newHdrStrings() *hdrStrings {
	return &hdrStrings{
		uris: []string{"", nsXML, nsXSI, schema.NSXSD, nsEXI},
		locals: [][]string{nil, {"base", "id", "lang", "space"}, {"nil", "type"}, schema.XSDTypeNames(),
			append([]string(nil), hdrNames...)},
		learned: map[QName]bool{},
	}
}

// writeEntry writes one element of a datatypeRepresentationMap entry:
// SE(*) with its qname, then EE in its built-in grammar.
func (h *hdrStrings) writeEntry(w *bitWriter, q QName) {
	u := slices.Index(h.uris, q.URI)
	w.writeBits(uint64(u+1), bitsFor(len(h.uris)+1))
	if u < 0 {
		w.writeUint(uint64(runeCount(q.URI)))
		w.writeChars(q.URI)
		h.uris = append(h.uris, q.URI)
		h.locals = append(h.locals, nil)
		u = len(h.uris) - 1
	}
	if l := slices.Index(h.locals[u], q.Local); l >= 0 {
		w.writeUint(0)
		w.writeBits(uint64(l), bitsFor(len(h.locals[u])))
	} else {
		w.writeUint(uint64(runeCount(q.Local)) + 1)
		w.writeChars(q.Local)
		h.locals[u] = append(h.locals[u], q.Local)
	}
	if h.learned[q] {
		w.writeBits(0, 1) // learned EE
	} else {
		w.writeBits(0, 2) // EE at 0.0
		h.learned[q] = true
	}
}

func (h *hdrStrings) readEntry(r *bitReader) (QName, error) {
	var q QName
	v, err := r.readBits(bitsFor(len(h.uris) + 1))
	if err != nil {
		return q, err
	}
	if v > uint64(len(h.uris)) {
		return q, r.fail(fmt.Errorf("options document: uri id %d: %w", v, ErrMalformed))
	}
	u := int(v) - 1
	if u < 0 {
		if q.URI, err = r.readString(); err != nil {
			return q, err
		}
		if len(h.uris) > 64 {
			return q, r.fail(fmt.Errorf("options document: too many URIs: %w", ErrMalformed))
		}
		h.uris = append(h.uris, q.URI)
		h.locals = append(h.locals, nil)
		u = len(h.uris) - 1
	}
	q.URI = h.uris[u]
	n, err := r.readUint()
	if err != nil {
		return q, err
	}
	if n == 0 {
		l, err := r.readBits(bitsFor(len(h.locals[u])))
		if err != nil {
			return q, err
		}
		if l >= uint64(len(h.locals[u])) {
			return q, r.fail(fmt.Errorf("options document: local-name id %d: %w", l, ErrMalformed))
		}
		q.Local = h.locals[u][l]
	} else {
		if q.Local, err = r.readChars(n - 1); err != nil {
			return q, err
		}
		h.locals[u] = append(h.locals[u], q.Local)
	}
	if h.learned[q] {
		b, err := r.readBits(1)
		if err != nil {
			return q, err
		}
		if b != 0 {
			return q, r.fail(fmt.Errorf("options document: content in a datatypeRepresentationMap entry: %w", ErrUnsupported))
		}
	} else {
		b, err := r.readBits(2)
		if err != nil {
			return q, err
		}
		if b != 0 {
			return q, r.fail(fmt.Errorf("options document: content in a datatypeRepresentationMap entry: %w", ErrUnsupported))
		}
		h.learned[q] = true
	}
	return q, nil
}

func (o *Options) needPreserve() bool {
	p := o.Preserve
	return p.DTD || p.Prefixes || p.LexicalValues || p.Comments || p.PIs
}

// writeHeader writes the EXI header (§5) and, for aligned bodies, pads it.
func writeHeader(w *bitWriter, o *Options) {
	if o.Header.Cookie {
		w.writeBits('$', 8)
		w.writeBits('E', 8)
		w.writeBits('X', 8)
		w.writeBits('I', 8)
	}
	w.writeBits(2, 2) // distinguishing bits 10
	w.writeBool(o.Header.Options)
	w.writeBits(0, 5) // final version, version 1
	if o.Header.Options {
		writeOptionsDoc(w, o)
	}
	if o.Alignment != BitPacked {
		w.align()
	}
}

func writeOptionsDoc(w *bitWriter, o *Options) {
	w.writeBits(0, 1) // SE(header) in DocContent {SE(header), SE(*)}
	hdr := seqWriter{w: w, items: hdrHeader}
	bs := o.blockSize()
	if o.needUncommon() || o.needPreserve() || bs != DefaultBlockSize {
		hdr.child(0)
		lc := seqWriter{w: w, items: hdrLessCommon}
		if o.needUncommon() {
			lc.child(0)
			uc := seqWriter{w: w, items: hdrUncommon}
			if o.Alignment == ByteAligned || o.Alignment == PreCompression {
				uc.child(0)
				w.writeBool(o.Alignment == PreCompression) // choice: byte | pre-compress
			}
			if o.SelfContained {
				uc.child(1)
			}
			if o.ValueMaxLength >= 0 {
				uc.child(2)
				w.writeUint(uint64(o.ValueMaxLength))
			}
			if o.ValuePartitionCapacity >= 0 {
				uc.child(3)
				w.writeUint(uint64(o.ValuePartitionCapacity))
			}
			if len(o.DatatypeRepresentationMap) > 0 {
				h := newHdrStrings()
				for _, e := range o.DatatypeRepresentationMap {
					uc.child(4)
					h.writeEntry(w, e.Type)
					h.writeEntry(w, e.Representation)
				}
			}
			uc.end()
		}
		if o.needPreserve() {
			lc.child(1)
			ps := seqWriter{w: w, items: hdrPreserve}
			p := o.Preserve
			for i, on := range []bool{p.DTD, p.Prefixes, p.LexicalValues, p.Comments, p.PIs} {
				if on {
					ps.child(i)
				}
			}
			ps.end()
		}
		if bs != DefaultBlockSize {
			lc.child(2)
			w.writeUint(uint64(bs))
		}
		lc.end()
	}
	if o.Alignment == Compression || o.Fragment || o.Header.SchemaID {
		hdr.child(1)
		cm := seqWriter{w: w, items: hdrCommon}
		if o.Alignment == Compression {
			cm.child(0)
		}
		if o.Fragment {
			cm.child(1)
		}
		if o.Header.SchemaID {
			cm.child(2)
			if o.SchemaIDNil {
				w.writeBits(1, 1) // second level: AT(xsi:nil)
				w.writeBool(true)
			} else {
				w.writeBits(0, 1) // CH
				w.writeUint(uint64(len([]rune(o.SchemaID))) + 2)
				w.writeChars(o.SchemaID)
			}
		}
		cm.end()
	}
	if o.Strict {
		hdr.child(2)
	}
	hdr.end()
}

// headerInfo is what a decoder learned from a header.
type headerInfo struct {
	cookie      bool
	hasOptions  bool
	hasSchemaID bool
}

// seqReader decodes the children of one options-document element.
type seqReader struct {
	r     *bitReader
	items []string
	next  int
}

// child returns the index of the next child, or -1 at EE.
func (s *seqReader) child() (int, error) {
	n := len(s.items) - s.next + 1
	v, err := s.r.readBits(bitsFor(n))
	if err != nil {
		return 0, err
	}
	if int(v) >= n {
		return 0, s.r.fail(fmt.Errorf("options document: event code %d: %w", v, ErrMalformed))
	}
	if int(v) == n-1 {
		return -1, nil
	}
	i := s.next + int(v)
	s.next = i
	if s.items[i] != "datatypeRepresentationMap" {
		s.next = i + 1
	}
	return i, nil
}

// readHeader reads the EXI header into o (options from the header replace
// those in o) and skips the padding of aligned bodies.
func readHeader(r *bitReader, o *Options) (headerInfo, error) {
	var hi headerInfo
	b, err := r.readBits(2)
	if err != nil {
		return hi, err
	}
	if b == 0 { // maybe "$EXI": '$' is 0x24 = 00100100
		rest, err := r.readBits(30)
		if err != nil {
			return hi, err
		}
		if rest != 0x24455849&(1<<30-1) {
			return hi, r.fail(fmt.Errorf("bad EXI cookie: %w", ErrMalformed))
		}
		hi.cookie = true
		if b, err = r.readBits(2); err != nil {
			return hi, err
		}
	}
	if b != 2 {
		return hi, r.fail(fmt.Errorf("distinguishing bits %02b, want 10: %w", b, ErrMalformed))
	}
	if hi.hasOptions, err = r.readBool(); err != nil {
		return hi, err
	}
	v, err := r.readBits(5)
	if err != nil {
		return hi, err
	}
	if v != 0 {
		return hi, r.fail(fmt.Errorf("EXI version field %05b (only final version 1): %w", v, ErrUnsupported))
	}
	if hi.hasOptions {
		lim, hdr, sch, res, swb := o.Limits, o.Header, o.Schema, o.SchemaResolver, o.SessionWideBuffers
		*o = DefaultOptions()
		o.Limits, o.Header, o.Schema, o.SchemaResolver, o.SessionWideBuffers = lim, hdr, sch, res, swb
		if err := readOptionsDoc(r, o, &hi); err != nil {
			return hi, err
		}
	}
	if o.Alignment != BitPacked {
		r.align()
	}
	return hi, nil
}

func readOptionsDoc(r *bitReader, o *Options, hi *headerInfo) error {
	bad := func(what string) error {
		return r.fail(fmt.Errorf("options document: %s: %w", what, ErrUnsupported))
	}
	if v, err := r.readBits(1); err != nil {
		return err
	} else if v != 0 {
		return bad("root element is not header")
	}
	readU := func() (int, error) {
		v, err := r.readUint()
		if err == nil && v > 1<<31-1 {
			return 0, r.fail(fmt.Errorf("options value %d too large: %w", v, ErrMalformed))
		}
		return int(v), err
	}
	hdr := seqReader{r: r, items: hdrHeader}
	for {
		c, err := hdr.child()
		if err != nil {
			return err
		}
		switch c {
		case -1:
			return nil
		case 0:
			lc := seqReader{r: r, items: hdrLessCommon}
			for done := false; !done; {
				c, err := lc.child()
				if err != nil {
					return err
				}
				switch c {
				case -1:
					done = true
				case 0:
					var h *hdrStrings
					uc := seqReader{r: r, items: hdrUncommon}
					for done := false; !done; {
						c, err := uc.child()
						if err != nil {
							return err
						}
						switch c {
						case -1:
							done = true
						case 0:
							pre, err := r.readBool()
							if err != nil {
								return err
							}
							if o.Alignment != Compression {
								o.Alignment = ByteAligned
								if pre {
									o.Alignment = PreCompression
								}
							}
						case 1:
							o.SelfContained = true
						case 2:
							if o.ValueMaxLength, err = readU(); err != nil {
								return err
							}
						case 3:
							if o.ValuePartitionCapacity, err = readU(); err != nil {
								return err
							}
						case 4:
							if h == nil {
								h = newHdrStrings()
							}
							var e DatatypeRepresentation
							if e.Type, err = h.readEntry(r); err != nil {
								return err
							}
							if e.Representation, err = h.readEntry(r); err != nil {
								return err
							}
							if len(o.DatatypeRepresentationMap) >= 256 {
								return r.fail(fmt.Errorf("options document: datatypeRepresentationMap too long: %w", ErrMalformed))
							}
							o.DatatypeRepresentationMap = append(o.DatatypeRepresentationMap, e)
						}
					}
				case 1:
					ps := seqReader{r: r, items: hdrPreserve}
					for done := false; !done; {
						c, err := ps.child()
						if err != nil {
							return err
						}
						p := &o.Preserve
						switch c {
						case -1:
							done = true
						case 0:
							p.DTD = true
						case 1:
							p.Prefixes = true
						case 2:
							p.LexicalValues = true
						case 3:
							p.Comments = true
						case 4:
							p.PIs = true
						}
					}
				case 2:
					if o.BlockSize, err = readU(); err != nil {
						return err
					}
					if o.BlockSize == 0 {
						return r.fail(fmt.Errorf("options document: blockSize 0: %w", ErrMalformed))
					}
				}
			}
		case 1:
			cm := seqReader{r: r, items: hdrCommon}
			for done := false; !done; {
				c, err := cm.child()
				if err != nil {
					return err
				}
				switch c {
				case -1:
					done = true
				case 0:
					o.Alignment = Compression
				case 1:
					o.Fragment = true
				case 2:
					hi.hasSchemaID = true
					esc, err := r.readBits(1)
					if err != nil {
						return err
					}
					if esc == 1 {
						nil_, err := r.readBool()
						if err != nil {
							return err
						}
						o.SchemaIDNil = nil_
						if !nil_ {
							return bad("schemaId with xsi:nil=false")
						}
						continue
					}
					n, err := r.readUint()
					if err != nil {
						return err
					}
					if n < 2 {
						return bad("schemaId string table hit")
					}
					if o.SchemaID, err = r.readChars(n - 2); err != nil {
						return err
					}
				}
			}
		case 2:
			o.Strict = true
		}
	}
}
