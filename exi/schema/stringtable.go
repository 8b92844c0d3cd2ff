package schema

import "sort"

// xsdTypeNames are the local names EXI pre-populates for the XML Schema
// namespace (Appendix D.3), already sorted.
var xsdTypeNames = []string{"ENTITIES", "ENTITY", "ID", "IDREF", "IDREFS", "NCName", "NMTOKEN", "NMTOKENS",
	"NOTATION", "Name", "QName", "anySimpleType", "anyType", "anyURI", "base64Binary", "boolean", "byte",
	"date", "dateTime", "decimal", "double", "duration", "float", "gDay", "gMonth", "gMonthDay", "gYear",
	"gYearMonth", "hexBinary", "int", "integer", "language", "long", "negativeInteger",
	"nonNegativeInteger", "nonPositiveInteger", "normalizedString", "positiveInteger", "short", "string",
	"time", "token", "unsignedByte", "unsignedInt", "unsignedLong", "unsignedShort"}

// stringTable builds the initial string table (§7.3.1, Appendix D): the
// four fixed URIs, then the schema's URIs sorted; local names of elements,
// attributes and named types per URI, sorted.
func (c *compiler) stringTable() StringTable {
	names := map[string]map[string]bool{}
	add := func(uri, local string) {
		m := names[uri]
		if m == nil {
			m = map[string]bool{}
			names[uri] = m
		}
		if local != "" {
			m[local] = true
		}
	}
	add("", "")
	for _, l := range []string{"base", "id", "lang", "space"} {
		add(NSXML, l)
	}
	add(NSXSI, "nil")
	add(NSXSI, "type")
	for _, l := range xsdTypeNames {
		add(NSXSD, l)
	}
	for _, d := range c.s.docs {
		add(d.target, "")
	}
	for _, e := range c.elems {
		add(e.name.URI, e.name.Local)
	}
	for _, t := range c.all {
		if t.name != (QName{}) {
			add(t.name.URI, t.name.Local)
		}
		for _, a := range t.attrs {
			add(a.name.URI, a.name.Local)
		}
		if t.wild != nil {
			for _, u := range t.wild.uris {
				add(u, "")
			}
		}
		if t.particle != nil {
			walkWild(t.particle, func(w *xWild) {
				for _, u := range w.uris {
					add(u, "")
				}
			}, 0)
		}
	}
	for q := range c.g.GlobalAttributes {
		add(q.URI, q.Local)
	}
	fixed := []string{"", NSXML, NSXSI, NSXSD}
	var extra []string
	for u := range names {
		if u != "" && u != NSXML && u != NSXSI && u != NSXSD {
			extra = append(extra, u)
		}
	}
	sort.Strings(extra)
	var st StringTable
	for _, u := range append(fixed, extra...) {
		p := URIPartition{URI: u}
		switch u {
		case "":
			p.Prefixes = []string{""}
		case NSXML:
			p.Prefixes = []string{"xml"}
		case NSXSI:
			p.Prefixes = []string{"xsi"}
		}
		for l := range names[u] {
			p.LocalNames = append(p.LocalNames, l)
		}
		sort.Strings(p.LocalNames)
		st.URIs = append(st.URIs, p)
	}
	return st
}

func walkWild(p *xParticle, f func(*xWild), depth int) {
	if p == nil || depth > 256 {
		return
	}
	if p.wild != nil {
		f(p.wild)
	}
	if p.group != nil {
		for _, k := range p.group.parts {
			walkWild(k, f, depth+1)
		}
	}
}

// XSDTypeNames returns the local names EXI pre-populates for the XML
// Schema namespace (Appendix D.3), sorted.
func XSDTypeNames() []string { return append([]string(nil), xsdTypeNames...) }
