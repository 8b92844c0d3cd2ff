package schema

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Limits that keep hostile schemas from exhausting memory or time.
const (
	maxSchemaFiles = 512
	maxNodeDepth   = 256
	maxNodes       = 1 << 20
)

// node is one element of an XSD document with its in-scope namespaces.
type node struct {
	name     QName
	attrs    map[string]string // unqualified attributes only
	children []*node
	ns       map[string]string // prefix → URI in scope ("" = default)
	doc      *schemaDoc
	line     int
}

func (n *node) attr(k string) (string, bool) { v, ok := n.attrs[k]; return v, ok }

// where names the node for error messages.
func (n *node) where() string {
	s := n.doc.file + ": <xs:" + n.name.Local
	if v := n.attrs["name"]; v != "" {
		s += " name=" + v
	} else if v := n.attrs["ref"]; v != "" {
		s += " ref=" + v
	}
	return s + fmt.Sprintf("> (line %d)", n.line)
}

// resolveQName expands a QName-valued attribute value in n's scope.
func (n *node) resolveQName(v string) (QName, error) {
	v = strings.TrimSpace(v)
	prefix, local := "", v
	if i := strings.IndexByte(v, ':'); i >= 0 {
		prefix, local = v[:i], v[i+1:]
	}
	uri, ok := n.ns[prefix]
	if !ok {
		if prefix == "xml" {
			return QName{NSXML, local}, nil
		}
		if prefix != "" {
			return QName{}, fmt.Errorf("%s: undeclared prefix %q in %q", n.where(), prefix, v)
		}
	}
	return QName{uri, local}, nil
}

func (n *node) kids(local string) []*node {
	var out []*node
	for _, c := range n.children {
		if c.name.URI == NSXSD && c.name.Local == local {
			out = append(out, c)
		}
	}
	return out
}

func (n *node) kid(local string) *node {
	for _, c := range n.children {
		if c.name.URI == NSXSD && c.name.Local == local {
			return c
		}
	}
	return nil
}

// schemaDoc is one parsed XSD file.
type schemaDoc struct {
	file      string
	target    string
	elemQual  bool
	attrQual  bool
	root      *node
	chameleon bool
}

// parseXSD reads one XSD document into a node tree.
func parseXSD(file string, data []byte) (*schemaDoc, error) {
	doc := &schemaDoc{file: file}
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	var stack []*node
	count := 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			count++
			if count > maxNodes || len(stack) >= maxNodeDepth {
				return nil, fmt.Errorf("%s: schema too large or too deep", file)
			}
			line, _ := d.InputPos()
			n := &node{name: QName{t.Name.Space, t.Name.Local}, attrs: map[string]string{}, doc: doc, line: line}
			parentNS := map[string]string{"xml": NSXML}
			if len(stack) > 0 {
				parentNS = stack[len(stack)-1].ns
			}
			n.ns = parentNS
			copied := false
			for _, a := range t.Attr {
				switch {
				case a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns"):
					if !copied {
						n.ns = make(map[string]string, len(parentNS)+1)
						for k, v := range parentNS {
							n.ns[k] = v
						}
						copied = true
					}
					if a.Name.Space == "xmlns" {
						n.ns[a.Name.Local] = a.Value
					} else {
						n.ns[""] = a.Value
					}
				case a.Name.Space == "":
					n.attrs[a.Name.Local] = a.Value
				}
			}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			} else {
				doc.root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
	if doc.root == nil || doc.root.name != (QName{NSXSD, "schema"}) {
		return nil, fmt.Errorf("%s: root element is not xs:schema", file)
	}
	r := doc.root
	doc.target = r.attrs["targetNamespace"]
	doc.elemQual = r.attrs["elementFormDefault"] == "qualified"
	doc.attrQual = r.attrs["attributeFormDefault"] == "qualified"
	return doc, nil
}

// FileLoader returns the content of a schema file; [Load] uses os.ReadFile
// when none is given. Tests and devices may serve schemas from memory.
type FileLoader func(path string) ([]byte, error)

// schemaSet is the loaded set of XSD documents with their global
// components indexed by qualified name.
type schemaSet struct {
	docs       []*schemaDoc
	seen       map[string]bool
	load       FileLoader
	elements   map[QName]*node
	attributes map[QName]*node
	types      map[QName]*node
	groups     map[QName]*node
	attrGroups map[QName]*node
	order      []*node // global element declarations in document order
}

func newSchemaSet(load FileLoader) *schemaSet {
	if load == nil {
		load = os.ReadFile
	}
	return &schemaSet{
		seen: map[string]bool{}, load: load,
		elements: map[QName]*node{}, attributes: map[QName]*node{}, types: map[QName]*node{},
		groups: map[QName]*node{}, attrGroups: map[QName]*node{},
	}
}

// addFile loads file and, recursively, the files it includes or imports.
// chameleon is the target namespace an include without its own takes on.
func (s *schemaSet) addFile(file string, chameleon *string) error {
	key := filepath.Clean(file)
	if chameleon != nil {
		key += "#" + *chameleon
	}
	if s.seen[key] {
		return nil
	}
	s.seen[key] = true
	if len(s.docs) >= maxSchemaFiles {
		return fmt.Errorf("%s: too many schema documents", file)
	}
	data, err := s.load(file)
	if err != nil {
		return fmt.Errorf("schema: read %s: %w", file, err)
	}
	doc, err := parseXSD(file, data)
	if err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	if chameleon != nil && doc.target == "" {
		doc.target = *chameleon
		doc.chameleon = true
	}
	s.docs = append(s.docs, doc)
	if err := s.index(doc); err != nil {
		return err
	}
	dir := filepath.Dir(file)
	for _, c := range doc.root.children {
		if c.name.URI != NSXSD {
			continue
		}
		loc := c.attrs["schemaLocation"]
		switch c.name.Local {
		case "include":
			if loc == "" {
				return fmt.Errorf("schema: %s: include without schemaLocation", c.where())
			}
			t := doc.target
			if err := s.addFile(joinLoc(dir, loc), &t); err != nil {
				return err
			}
		case "import":
			if loc == "" {
				continue // namespace known by other means (or built in)
			}
			if err := s.addFile(joinLoc(dir, loc), nil); err != nil {
				return err
			}
		case "redefine", "override":
			return fmt.Errorf("schema: %s: %s is not supported", c.where(), c.name.Local)
		}
	}
	return nil
}

func joinLoc(dir, loc string) string {
	if filepath.IsAbs(loc) {
		return loc
	}
	return filepath.Join(dir, filepath.FromSlash(loc))
}

// index records doc's global components.
func (s *schemaSet) index(doc *schemaDoc) error {
	for _, c := range doc.root.children {
		if c.name.URI != NSXSD {
			continue
		}
		var m map[QName]*node
		switch c.name.Local {
		case "element":
			m = s.elements
		case "attribute":
			m = s.attributes
		case "complexType", "simpleType":
			m = s.types
		case "group":
			m = s.groups
		case "attributeGroup":
			m = s.attrGroups
		default:
			continue
		}
		name := c.attrs["name"]
		if name == "" {
			return fmt.Errorf("schema: %s: global %s without name", c.where(), c.name.Local)
		}
		q := QName{doc.target, name}
		if prev, dup := m[q]; dup {
			if prev.doc.file == c.doc.file && prev.line == c.line {
				continue
			}
			return fmt.Errorf("schema: %s: duplicate global %s %s (first in %s)", c.where(), c.name.Local, q, prev.doc.file)
		}
		m[q] = c
		if c.name.Local == "element" {
			s.order = append(s.order, c)
		}
	}
	return nil
}
