package exi

import (
	"encoding/xml"
	"fmt"
	"slices"
)

// Initial string table contents (EXI Appendix D).
const (
	nsXML = "http://www.w3.org/XML/1998/namespace"
	nsXSI = "http://www.w3.org/2001/XMLSchema-instance"
)

// localName is one entry of a URI's local-name partition. It is also the
// identity of the expanded name {uri}local, so it carries everything keyed
// by qname: the built-in element grammar and the local value partition.
type localName struct {
	name  string
	uri   *uriEntry
	id    int
	elem  *elemGrammar // built-in element grammar, created on first SE
	lvals []int32      // local value partition from compact id lfree: global ids, -1 when freed
	lfree int          // leading local ids freed by the bounded global partition, dropped from lvals
	ch    *channel     // pre-compression value channel of the current block
	chBuf *channel     // the channel object, kept for the next blocks
	gel   int32        // schema: global element declaration + 1, -1 none, 0 unknown
	gat   int32        // schema: global attribute datatype + 1, -1 none, 0 unknown
	lastG int32        // encoder: global id of the last value looked up with this name, a hint
	key   [2]uint64    // shortKey(name) when name has at most maxShort bytes

	touched bool      // on tables.touched: has per-stream state to clear
	endTok  xml.Token // decoder: the EndElement token of this name, boxed once
}

// uriEntry is one entry of the URI partition with its prefix and
// local-name partitions.
type uriEntry struct {
	name     string
	id       int
	prefixes []string
	locals   []*localName
	localIdx map[string]*localName

	initPrefixes, initLocals int // initial entries, kept by tables.reset

	recycle map[string]*localName // entries of earlier streams, reused by addLocal
}

// channel returns ln's value channel, emptied, reusing its allocation.
func (ln *localName) channel() *channel {
	c := ln.chBuf
	if c == nil {
		c = &channel{ln: ln}
		ln.chBuf = c
	}
	c.vals, c.dts, c.pos = c.vals[:0], c.dts[:0], 0
	c.enc.reset(true)
	c.at, c.n = c.at[:0], 0
	return c
}

// maxRecycle bounds the entries kept for reuse across streams.
const maxRecycle = 4096

// recycleLocals removes the non-initial local names, keeping them (with
// their allocations, state cleared) for reuse by later streams.
func (u *uriEntry) recycleLocals() {
	if len(u.locals) == u.initLocals {
		return
	}
	for _, ln := range u.locals[u.initLocals:] {
		delete(u.localIdx, ln.name)
		if len(u.recycle) >= maxRecycle {
			continue
		}
		if u.recycle == nil {
			u.recycle = make(map[string]*localName)
		}
		if ln.elem != nil {
			ln.elem.stc, ln.elem.ec = ln.elem.stc[:0], ln.elem.ec[:0]
		}
		ln.lvals, ln.lfree, ln.ch, ln.touched, ln.gel, ln.gat = ln.lvals[:0], 0, nil, false, 0, 0
		u.recycle[ln.name] = ln
	}
	clear(u.locals[u.initLocals:])
	u.locals = u.locals[:u.initLocals]
}

// gval is one entry of the global value partition.
type gval struct {
	s     string
	owner *localName
	local int32 // compact id in owner's local partition
}

// tables are the string tables and the grammars learned with them; a
// self-contained element swaps in a fresh set.
type tables struct {
	uris    []*uriEntry
	uriIdx  map[string]*uriEntry
	gvals   []gval
	vidx    *valIndex    // encoder only: value -> global id
	gnext   int          // next global id when the partition is bounded
	entries int          // total entries, checked against Limits
	frag    *elemGrammar // learned fragment content (SE(qname) productions)

	initURIs int                  // initial URI entries, kept by reset
	recycled map[string]*uriEntry // URI entries of earlier streams, reused by addURI
	vrecycle map[string]string    // decoder: value strings of earlier streams
	touched  []*localName         // entries with grammars or values to clear on reset
	schema   any                  // the grammars the initial entries come from (nil: none)

	// session is set while the tables are kept across documents
	// (Options.SessionWideBuffers): learned productions then count as
	// entries, so that a long session stays within MaxStringTableEntries.
	session bool
}

// learned counts a production learned by a built-in grammar.
func (t *tables) learned() {
	if t.session {
		t.entries++
	}
}

// nlocal is the size of ln's local value partition, freed ids included.
func (ln *localName) nlocal() int { return ln.lfree + len(ln.lvals) }

// maxLocalID bounds local value ids so that they fit gval.local.
const maxLocalID = 1<<31 - 2

// markInit records the current entries as the initial content that reset
// returns to.
func (t *tables) markInit() {
	t.initURIs = len(t.uris)
	for _, u := range t.uris {
		u.initPrefixes, u.initLocals = len(u.prefixes), len(u.locals)
	}
	t.entries = 0
}

// touch records that ln has per-stream state.
func (t *tables) touch(ln *localName) {
	if !ln.touched {
		ln.touched = true
		t.touched = append(t.touched, ln)
	}
}

// elemOf returns the built-in element grammar of ln, creating it.
func (t *tables) elemOf(ln *localName) *elemGrammar {
	if ln.elem == nil {
		ln.elem = &elemGrammar{}
	}
	t.touch(ln)
	return ln.elem
}

// reset returns t to its initial content for a new stream, keeping the
// allocations of the initial entries.
func (t *tables) reset() {
	for _, ln := range t.touched {
		if ln.elem != nil {
			ln.elem.stc, ln.elem.ec = ln.elem.stc[:0], ln.elem.ec[:0]
		}
		ln.lvals, ln.lfree, ln.ch, ln.touched = ln.lvals[:0], 0, nil, false
	}
	t.touched = t.touched[:0]
	for _, u := range t.uris[t.initURIs:] {
		delete(t.uriIdx, u.name)
		u.recycleLocals()
		u.prefixes = u.prefixes[:0]
		if len(t.recycled) < maxRecycle {
			if t.recycled == nil {
				t.recycled = make(map[string]*uriEntry)
			}
			t.recycled[u.name] = u
		}
	}
	clear(t.uris[t.initURIs:])
	t.uris = t.uris[:t.initURIs]
	for _, u := range t.uris {
		u.recycleLocals()
		u.prefixes = u.prefixes[:u.initPrefixes]
	}
	if t.vidx == nil { // decoder: keep value strings for reuse
		for _, g := range t.gvals {
			if len(t.vrecycle) >= maxRecycle {
				break
			}
			if t.vrecycle == nil {
				t.vrecycle = make(map[string]string)
			}
			t.vrecycle[g.s] = g.s
		}
	}
	clear(t.gvals)
	t.gvals = t.gvals[:0]
	if t.vidx != nil {
		t.vidx.reset()
	}
	t.gnext, t.entries = 0, 0
	t.frag.stc = t.frag.stc[:0]
}

func newTables(encoding bool) *tables {
	t := &tables{uriIdx: make(map[string]*uriEntry, 8)}
	if encoding {
		t.vidx = newValIndex()
	}
	t.addURI("").prefixes = []string{""}
	x := t.addURI(nsXML)
	x.prefixes = []string{"xml"}
	for _, l := range []string{"base", "id", "lang", "space"} {
		t.addLocal(x, l)
	}
	xsi := t.addURI(nsXSI)
	xsi.prefixes = []string{"xsi"}
	t.addLocal(xsi, "nil")
	t.addLocal(xsi, "type")
	t.frag = &elemGrammar{}
	t.markInit()
	return t
}

func (t *tables) addURI(s string) *uriEntry {
	if u := t.recycled[s]; u != nil {
		delete(t.recycled, s)
		u.id = len(t.uris)
		t.uris = append(t.uris, u)
		t.uriIdx[s] = u
		t.entries++
		return u
	}
	u := &uriEntry{name: s, id: len(t.uris), localIdx: make(map[string]*localName, 8)}
	t.uris = append(t.uris, u)
	t.uriIdx[s] = u
	t.entries++
	return u
}

func (t *tables) addLocal(u *uriEntry, s string) *localName {
	if ln := u.recycle[s]; ln != nil {
		delete(u.recycle, s)
		ln.id = len(u.locals)
		u.locals = append(u.locals, ln)
		u.localIdx[s] = ln
		t.entries++
		return ln
	}
	ln := &localName{name: s, uri: u, id: len(u.locals)}
	if len(s) <= maxShort {
		ln.key[0], ln.key[1] = shortKey(s)
	}
	u.locals = append(u.locals, ln)
	u.localIdx[s] = ln
	t.entries++
	return ln
}

func (t *tables) checkEntries(l *Limits) error {
	if t.entries > l.MaxStringTableEntries {
		return &LimitError{Limit: "MaxStringTableEntries", Value: int64(t.entries), Max: int64(l.MaxStringTableEntries)}
	}
	return nil
}

// addValue adds a missed value to the local and global partitions
// (EXI §7.3.3), honouring valueMaxLength and valuePartitionCapacity.
func (t *tables) addValue(o *Options, ln *localName, s string, runes int) {
	if runes == 0 || (o.ValueMaxLength >= 0 && runes > o.ValueMaxLength) || o.ValuePartitionCapacity == 0 || ln.nlocal() >= maxLocalID {
		return
	}
	g := gval{s: s, owner: ln, local: int32(ln.nlocal())}
	var id int32
	if cap := o.ValuePartitionCapacity; cap > 0 && len(t.gvals) >= cap {
		id = int32(t.gnext)
		old := t.gvals[id]
		ow := old.owner
		ow.lvals[int(old.local)-ow.lfree] = -1
		// The bounded partition frees values oldest first, so freed ids
		// are a prefix of each local partition: drop them, keeping the
		// memory of a long session (sessionWideBuffers) bounded by the
		// capacity. Their ids stay allocated (EXI §7.3.3).
		for len(ow.lvals) > 0 && ow.lvals[0] < 0 {
			ow.lvals = ow.lvals[1:]
			ow.lfree++
		}
		if t.vidx != nil {
			t.vidx.remove(t.gvals, id)
		}
		t.gvals[id] = g
	} else {
		id = int32(len(t.gvals))
		t.gvals = append(t.gvals, g)
		t.entries++
	}
	if cap := o.ValuePartitionCapacity; cap > 0 {
		t.gnext = (int(id) + 1) % cap
	}
	t.touch(ln)
	ln.lvals = append(ln.lvals, id)
	if t.vidx != nil {
		t.vidx.insert(t.gvals, id)
	}
}

// encodeQName writes uri and local name (§7.1.7), adding misses.
func (t *tables) encodeQName(w *bitWriter, uri, local string) *localName {
	u := t.encodeURI(w, uri)
	if ln := u.localIdx[local]; ln != nil {
		w.writeUint(0)
		w.writeNBit(uint64(ln.id), bitsFor(len(u.locals)))
		return ln
	}
	return t.encodeLocal(w, u, local)
}

// encodeLocal writes the local-name part of a qname (§7.1.7).
func (t *tables) encodeLocal(w *bitWriter, u *uriEntry, local string) *localName {
	if ln := u.localIdx[local]; ln != nil {
		w.writeUint(0)
		w.writeNBit(uint64(ln.id), bitsFor(len(u.locals)))
		return ln
	}
	w.writeUint(uint64(runeCount(local)) + 1)
	w.writeChars(local)
	return t.addLocal(u, local)
}

func (t *tables) encodeURI(w *bitWriter, uri string) *uriEntry {
	n := bitsFor(len(t.uris) + 1)
	if u := t.uriIdx[uri]; u != nil {
		w.writeNBit(uint64(u.id+1), n)
		return u
	}
	w.writeNBit(0, n)
	w.writeString(uri)
	return t.addURI(uri)
}

func (t *tables) decodeURI(r *bitReader) (*uriEntry, error) {
	v, err := r.readNBit(bitsFor(len(t.uris) + 1))
	if err != nil {
		return nil, err
	}
	if v > 0 {
		if int(v) > len(t.uris) {
			return nil, r.fail(fmt.Errorf("uri id %d of %d: %w", v-1, len(t.uris), ErrMalformed))
		}
		return t.uris[v-1], nil
	}
	n, err := r.readUint()
	if err != nil {
		return nil, err
	}
	b, err := r.readCharBytes(n)
	if err != nil {
		return nil, err
	}
	if u := t.uriIdx[string(b)]; u != nil {
		return u, nil // tolerate a redundant miss
	}
	if u := t.recycled[string(b)]; u != nil {
		return t.addURI(u.name), nil
	}
	return t.addURI(string(b)), nil
}

func (t *tables) decodeQName(r *bitReader) (*localName, error) {
	u, err := t.decodeURI(r)
	if err != nil {
		return nil, err
	}
	return t.decodeLocal(r, u)
}

// decodeLocal reads the local-name part of a qname in partition u.
func (t *tables) decodeLocal(r *bitReader, u *uriEntry) (*localName, error) {
	n, err := r.readUint()
	if err != nil {
		return nil, err
	}
	if n == 0 {
		id, err := r.readNBit(bitsFor(len(u.locals)))
		if err != nil {
			return nil, err
		}
		if id >= uint64(len(u.locals)) {
			return nil, r.fail(fmt.Errorf("local-name id %d of %d: %w", id, len(u.locals), ErrMalformed))
		}
		return u.locals[id], nil
	}
	b, err := r.readCharBytes(n - 1)
	if err != nil {
		return nil, err
	}
	if ln := u.localIdx[string(b)]; ln != nil {
		return ln, nil
	}
	if ln := u.recycle[string(b)]; ln != nil {
		return t.addLocal(u, ln.name), nil
	}
	return t.addLocal(u, string(b)), nil
}

// encodePrefix writes a prefix of a qname (§7.1.7): its compact id in the
// URI's prefix partition, or 0 when the partition has no match.
func encodePrefix(w *bitWriter, u *uriEntry, prefix string) {
	id := 0
	for i, p := range u.prefixes {
		if p == prefix {
			id = i
			break
		}
	}
	w.writeNBit(uint64(id), bitsFor(len(u.prefixes)))
}

func decodePrefix(r *bitReader, u *uriEntry) (int, error) {
	v, err := r.readNBit(bitsFor(len(u.prefixes)))
	if err != nil {
		return 0, err
	}
	if len(u.prefixes) > 0 && v >= uint64(len(u.prefixes)) {
		return 0, r.fail(fmt.Errorf("prefix id %d of %d: %w", v, len(u.prefixes), ErrMalformed))
	}
	return int(v), nil
}

// encodeNSPrefix writes the prefix of an NS event (§7.3.2) and adds misses.
func (t *tables) encodeNSPrefix(w *bitWriter, u *uriEntry, prefix string) {
	n := bitsFor(len(u.prefixes) + 1)
	for i, p := range u.prefixes {
		if p == prefix {
			w.writeNBit(uint64(i+1), n)
			return
		}
	}
	w.writeNBit(0, n)
	w.writeString(prefix)
	u.prefixes = append(u.prefixes, prefix)
	t.entries++
}

func (t *tables) decodeNSPrefix(r *bitReader, u *uriEntry) (string, error) {
	v, err := r.readNBit(bitsFor(len(u.prefixes) + 1))
	if err != nil {
		return "", err
	}
	if v > 0 {
		if int(v) > len(u.prefixes) {
			return "", r.fail(fmt.Errorf("prefix id %d of %d: %w", v-1, len(u.prefixes), ErrMalformed))
		}
		return u.prefixes[v-1], nil
	}
	s, err := r.readString()
	if err != nil {
		return "", err
	}
	u.prefixes = append(u.prefixes, s)
	t.entries++
	return s, nil
}

// encodeValue writes a value content item through the string table. cs,
// when not nil, is the sorted restricted character set of the value's
// type (§7.1.10.1).
func (t *tables) encodeValue(w *bitWriter, o *Options, ln *localName, s string, cs []rune) {
	if part, id, nb, ok := t.lookupValue(ln, s); ok {
		if !w.aligned { // unsigned integer 0 or 1 (8 bits), then the id
			w.writeBits(part<<uint(nb)|id, 8+nb)
			return
		}
		w.writeUint(part)
		w.writeNBit(id, nb)
		return
	}
	t.encodeMiss(w, o, ln, s, cs)
}

// lookupValue finds s in the value partitions: part is 0 for a hit in
// ln's local partition, 1 for the global partition, id the compact id
// and nb its width.
func (t *tables) lookupValue(ln *localName, s string) (part, id uint64, nb int, ok bool) {
	// Fast path: the value of the last item of the same qname (attributes
	// repeat their values), found without hashing. Values are unique in
	// the global partition, so this is the entry a lookup would find.
	g, ok := ln.lastG, false
	if len(s) <= maxShort {
		// short strings compare as integers in the index's slots
		g, ok = t.vidx.find(t.gvals, s)
	} else if uint(g) < uint(len(t.gvals)) && t.gvals[g].s == s {
		ok = true
	} else {
		g, ok = t.vidx.find(t.gvals, s)
	}
	if !ok {
		return 0, 0, 0, false
	}
	ln.lastG = g
	if e := &t.gvals[g]; e.owner == ln {
		return 0, uint64(e.local), bitsFor(ln.nlocal()), true
	}
	return 1, uint64(g), bitsFor(len(t.gvals)), true
}

// encodeMiss writes a value that is in neither partition and adds it.
func (t *tables) encodeMiss(w *bitWriter, o *Options, ln *localName, s string, cs []rune) {
	n := runeCount(s)
	w.writeUint(uint64(n) + 2)
	if cs == nil {
		w.writeChars(s)
	} else {
		writeRestricted(w, s, cs)
	}
	t.addValue(o, ln, s, n)
}

func writeRestricted(w *bitWriter, s string, cs []rune) {
	nb := bitsFor(len(cs) + 1)
	for _, r := range s {
		if i, ok := slices.BinarySearch(cs, r); ok {
			w.writeNBit(uint64(i), nb)
			continue
		}
		w.writeNBit(uint64(len(cs)), nb)
		w.writeUint(uint64(r))
	}
}

func (t *tables) decodeValue(r *bitReader, o *Options, ln *localName, cs []rune) (string, error) {
	n, err := r.readUint()
	if err != nil {
		return "", err
	}
	switch n {
	case 0:
		id, err := r.readNBit(bitsFor(ln.nlocal()))
		if err != nil {
			return "", err
		}
		if id < uint64(ln.lfree) || id >= uint64(ln.nlocal()) || ln.lvals[id-uint64(ln.lfree)] < 0 {
			return "", r.fail(fmt.Errorf("local value id %d: %w", id, ErrMalformed))
		}
		return t.gvals[ln.lvals[id-uint64(ln.lfree)]].s, nil
	case 1:
		id, err := r.readNBit(bitsFor(len(t.gvals)))
		if err != nil {
			return "", err
		}
		if id >= uint64(len(t.gvals)) {
			return "", r.fail(fmt.Errorf("global value id %d of %d: %w", id, len(t.gvals), ErrMalformed))
		}
		return t.gvals[id].s, nil
	}
	var s string
	if cs == nil {
		var b []byte
		if b, err = r.readCharBytes(n - 2); err == nil {
			var ok bool
			if s, ok = t.vrecycle[string(b)]; !ok {
				s = string(b)
			}
		}
	} else {
		s, err = r.readRestricted(n-2, cs)
	}
	if err != nil {
		return "", err
	}
	t.addValue(o, ln, s, int(n-2))
	return s, nil
}

func runeCount(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < 0x80 || s[i] >= 0xC0 {
			n++
		}
	}
	return n
}
