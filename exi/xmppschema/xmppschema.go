// Package xmppschema holds the XML schemas xiot uses on EXI-compressed XMPP
// streams (XEP-0322) and builds the XEP's canonical schema from any subset
// of them.
//
// Each schema is identified as XEP-0322 §2.2.2 asks: by its target
// namespace, its size in bytes and the lower-case MD5 hash of the file. A
// canonical schema (XEP-0322 "Generation of Canonic Schemas") is a wrapper
// with target namespace urn:xmpp:exi:cs importing the negotiated schemas in
// ascending namespace order; Set compiles such wrappers into EXI grammars
// and caches them, so that both ends of a stream, given the same schema
// list, use the same grammars.
package xmppschema

import (
	"bytes"
	"crypto/md5"
	"embed"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/xiot/xiot/exi/schema"
)

//go:embed xsd/*.xsd
var files embed.FS

// CanonicalNS is the target namespace of canonical schemas.
const CanonicalNS = "urn:xmpp:exi:cs"

// Bounds on what peers can make a Set hold.
const (
	maxCached   = 16      // compiled canonical schemas kept
	maxUploaded = 32      // schemas added by Add
	maxUpload   = 1 << 20 // bytes of one added schema
)

// Schema identifies one schema file as XEP-0322 does.
type Schema struct {
	NS    string // target namespace
	Bytes int    // file size
	MD5   string // lower-case hex MD5 of the file
	File  string // file name in the embedded set ("" when not held)
}

// Set is the collection of schemas one party holds, with a cache of the
// canonical grammars compiled from them. It is safe for concurrent use.
type Set struct {
	mu       sync.Mutex
	uploaded int
	schemas  []Schema
	data     map[string][]byte // file name -> content
	cache    map[string]*schema.Grammars
}

// New returns the set of the embedded XMPP and IoT schemas.
func New() (*Set, error) {
	ents, err := files.ReadDir("xsd")
	if err != nil {
		return nil, fmt.Errorf("xmppschema: embedded schemas: %w", err)
	}
	s := &Set{data: map[string][]byte{}, cache: map[string]*schema.Grammars{}}
	for _, e := range ents {
		b, err := files.ReadFile("xsd/" + e.Name())
		if err != nil {
			return nil, fmt.Errorf("xmppschema: %s: %w", e.Name(), err)
		}
		ns, err := targetNamespace(b)
		if err != nil {
			return nil, fmt.Errorf("xmppschema: %s: %w", e.Name(), err)
		}
		sum := md5.Sum(b)
		s.data[e.Name()] = b
		s.schemas = append(s.schemas, Schema{NS: ns, Bytes: len(b), MD5: hex.EncodeToString(sum[:]), File: e.Name()})
	}
	slices.SortFunc(s.schemas, func(a, b Schema) int { return strings.Compare(a.NS, b.NS) })
	return s, nil
}

// targetNamespace reads the targetNamespace attribute of a schema's root.
func targetNamespace(b []byte) (string, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		tok, err := d.Token()
		if err != nil {
			return "", fmt.Errorf("no schema element: %w", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			for _, a := range se.Attr {
				if a.Name.Local == "targetNamespace" && a.Name.Space == "" {
					return a.Value, nil
				}
			}
			return "", nil
		}
	}
}

// imports returns the namespaces a schema document imports (its
// top-level xs:import elements).
func imports(b []byte) []string {
	d := xml.NewDecoder(bytes.NewReader(b))
	var out []string
	depth := 0
	for {
		tok, err := d.Token()
		if err != nil {
			return out
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 2 && t.Name.Local == "import" && t.Name.Space == "http://www.w3.org/2001/XMLSchema" {
				for _, a := range t.Attr {
					if a.Name.Local == "namespace" && a.Name.Space == "" && !slices.Contains(out, a.Value) {
						out = append(out, a.Value)
					}
				}
			}
		case xml.EndElement:
			depth--
		}
	}
}

// Select returns the schemas of the given namespaces and every schema they
// import, directly or not, in ascending namespace order: the proposal of
// a party that speaks only these namespaces. A namespace the set holds no
// schema for is an error.
func (s *Set) Select(namespaces ...string) ([]Schema, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	byNS := map[string]Schema{}
	for _, sc := range s.schemas {
		byNS[sc.NS] = sc
	}
	picked := map[string]bool{}
	todo := slices.Clone(namespaces)
	for len(todo) > 0 {
		ns := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if picked[ns] {
			continue
		}
		sc, ok := byNS[ns]
		if !ok {
			return nil, fmt.Errorf("xmppschema: no schema for namespace %q", ns)
		}
		picked[ns] = true
		todo = append(todo, imports(s.data[sc.File])...)
	}
	var out []Schema
	for _, sc := range s.schemas {
		if picked[sc.NS] {
			out = append(out, sc)
		}
	}
	return out, nil
}

// All returns every schema of the set, in ascending namespace order.
func (s *Set) All() []Schema {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.schemas)
}

// Lookup reports whether the set holds exactly this schema (namespace, size
// and hash all equal).
func (s *Set) Lookup(want Schema) (Schema, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range s.schemas {
		if h.NS == want.NS && h.Bytes == want.Bytes && strings.EqualFold(h.MD5, want.MD5) {
			return h, true
		}
	}
	return Schema{}, false
}

// ID returns the schema ID xiot uses for the canonical schema of list in
// EXI headers: "urn:xmpp:exi:cs:" and the MD5 of the sorted identities.
func ID(list []Schema) string {
	keys := make([]string, len(list))
	for i, sc := range list {
		keys[i] = fmt.Sprintf("%s %d %s", sc.NS, sc.Bytes, strings.ToLower(sc.MD5))
	}
	slices.Sort(keys)
	sum := md5.Sum([]byte(strings.Join(keys, "\n")))
	return CanonicalNS + ":" + hex.EncodeToString(sum[:])
}

// Canonical returns the canonical schema document importing list in
// ascending namespace order.
func Canonical(list []Schema) []byte {
	sorted := slices.Clone(list)
	slices.SortFunc(sorted, func(a, b Schema) int { return strings.Compare(a.NS, b.NS) })
	var b bytes.Buffer
	b.WriteString("<?xml version='1.0' encoding='UTF-8'?>\n<xs:schema xmlns:xs='http://www.w3.org/2001/XMLSchema' targetNamespace='" + CanonicalNS + "' elementFormDefault='qualified'>\n")
	for _, sc := range sorted {
		fmt.Fprintf(&b, " <xs:import namespace='%s' schemaLocation='%s'/>\n", xmlAttr(sc.NS), xmlAttr(sc.File))
	}
	b.WriteString("</xs:schema>\n")
	return b.Bytes()
}

func xmlAttr(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return strings.ReplaceAll(b.String(), "'", "&#39;")
}

// Grammars compiles (once, then from the cache) the canonical schema of
// list. Every schema must be held by the set.
func (s *Set) Grammars(list []Schema) (*schema.Grammars, error) {
	id := ID(list)
	s.mu.Lock()
	defer s.mu.Unlock()
	if g := s.cache[id]; g != nil {
		return g, nil
	}
	held := make([]Schema, 0, len(list))
	for _, want := range list {
		var found bool
		for _, h := range s.schemas {
			if h.NS == want.NS && h.Bytes == want.Bytes && strings.EqualFold(h.MD5, want.MD5) {
				held, found = append(held, h), true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("xmppschema: schema for %q (%d bytes, md5 %s) not held", want.NS, want.Bytes, want.MD5)
		}
	}
	canon := Canonical(held)
	read := func(p string) ([]byte, error) {
		name := path.Base(p)
		if name == "canonical.xsd" {
			return canon, nil
		}
		if b, ok := s.data[name]; ok {
			return b, nil
		}
		return nil, fmt.Errorf("xmppschema: %s not held", p)
	}
	g, err := schema.Load(schema.LoadOptions{ReadFile: read}, "canonical.xsd")
	if err != nil {
		return nil, fmt.Errorf("xmppschema: compile canonical schema: %w", err)
	}
	if len(s.cache) >= maxCached {
		// Peers choose the schema lists: keep the cache bounded.
		for k := range s.cache {
			delete(s.cache, k)
			break
		}
	}
	s.cache[id] = g
	return g, nil
}

// Resolve returns the grammars for a schema ID made by ID from schemas the
// set has already compiled; it is meant for exi.Options.SchemaResolver.
func (s *Set) Resolve(id string) (*schema.Grammars, error) {
	s.mu.Lock()
	g := s.cache[id]
	s.mu.Unlock()
	if g != nil {
		return g, nil
	}
	if id == ID(s.All()) {
		return s.Grammars(s.All())
	}
	return nil, fmt.Errorf("xmppschema: unknown schema ID %q", id)
}

// Data returns the file of a schema the set holds.
func (s *Set) Data(sc Schema) ([]byte, bool) {
	h, ok := s.Lookup(sc)
	if !ok {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.data[h.File]
	return b, ok
}

// Add puts a schema file received from a peer (XEP-0322 uploadSchema) into
// the set and returns its identity. Its imports must name, by file name,
// schemas the set already holds.
func (s *Set) Add(data []byte) (Schema, error) {
	if len(data) > maxUpload {
		return Schema{}, fmt.Errorf("xmppschema: uploaded schema of %d bytes exceeds %d", len(data), maxUpload)
	}
	ns, err := targetNamespace(data)
	if err != nil {
		return Schema{}, fmt.Errorf("xmppschema: uploaded schema: %w", err)
	}
	sum := md5.Sum(data)
	sc := Schema{NS: ns, Bytes: len(data), MD5: hex.EncodeToString(sum[:])}
	if h, ok := s.Lookup(sc); ok {
		return h, nil
	}
	sc.File = "uploaded-" + sc.MD5 + ".xsd"
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.uploaded >= maxUploaded {
		return Schema{}, fmt.Errorf("xmppschema: already %d uploaded schemas", s.uploaded)
	}
	s.uploaded++
	s.data[sc.File] = slices.Clone(data)
	s.schemas = append(s.schemas, sc)
	slices.SortFunc(s.schemas, func(a, b Schema) int { return strings.Compare(a.NS, b.NS) })
	return sc, nil
}
