package exi

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"regexp"
)

// EncodeXML encodes an XML document (or, with opts.Fragment, a fragment)
// to EXI. Prefixes are taken from the document; general entities declared
// in an internal DTD subset are expanded.
func EncodeXML(doc []byte, opts Options) ([]byte, error) {
	var out bytes.Buffer
	out.Grow(len(doc) / 2)
	e, err := NewEncoder(&out, opts)
	if err != nil {
		return nil, err
	}
	if err := e.encodeXML(doc); err != nil {
		return nil, err
	}
	if err := e.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

var (
	entityDecl   = regexp.MustCompile(`<!ENTITY\s+([^\s%]+)\s+(?:"([^"]*)"|'([^']*)')\s*>`)
	externalDecl = regexp.MustCompile(`<!ENTITY\s+([^\s%]+)\s+(?:SYSTEM|PUBLIC)\s`)
)

// encodeXML parses doc with its own namespace resolution, so that
// prefixes survive and names such as an element called "xmlns" are
// resolved as XML Namespaces says.
func (e *Encoder) encodeXML(doc []byte) error {
	xd := xml.NewDecoder(bytes.NewReader(doc))
	var scope []nsDecl
	var marks []int
	var prefixes []string
	lookup := func(p string) (string, bool) {
		switch p {
		case "xml":
			return nsXML, true
		case "xmlns":
			return "", false
		}
		for i := len(scope) - 1; i >= 0; i-- {
			if scope[i].prefix == p {
				return scope[i].uri, true
			}
		}
		return "", p == ""
	}
	var names []xml.Name
	for {
		tok, err := xd.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("exi: parse XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			for _, m := range entityDecl.FindAllSubmatch(t, -1) {
				if xd.Entity == nil {
					xd.Entity = map[string]string{}
				}
				xd.Entity[string(m[1])] = string(m[2]) + string(m[3])
			}
			// External entities are not read: their references vanish, as
			// with the reference encoder's parser.
			for _, m := range externalDecl.FindAllSubmatch(t, -1) {
				if xd.Entity == nil {
					xd.Entity = map[string]string{}
				}
				xd.Entity[string(m[1])] = ""
			}
		case xml.StartElement:
			marks = append(marks, len(scope))
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" {
					scope = append(scope, nsDecl{a.Name.Local, a.Value})
				} else if a.Name.Space == "" && a.Name.Local == "xmlns" {
					scope = append(scope, nsDecl{"", a.Value})
				}
			}
			prefixes = append(prefixes[:0], t.Name.Space)
			uri, ok := lookup(t.Name.Space)
			if !ok {
				return fmt.Errorf("exi: undeclared prefix %q on <%s>: %w", t.Name.Space, t.Name.Local, ErrInvalid)
			}
			t.Name.Space = uri
			attrs := make([]xml.Attr, len(t.Attr))
			for i, a := range t.Attr {
				prefixes = append(prefixes, a.Name.Space)
				if a.Name.Space != "" && a.Name.Space != "xmlns" {
					u, ok := lookup(a.Name.Space)
					if !ok {
						return fmt.Errorf("exi: undeclared prefix %q on attribute %s: %w", a.Name.Space, a.Name.Local, ErrInvalid)
					}
					a.Name.Space = u
				}
				attrs[i] = a
			}
			t.Attr = attrs
			names = append(names, t.Name)
			if err := e.flushText(evSE); err != nil {
				return e.fail(err)
			}
			if e.err != nil {
				return e.err
			}
			e.start()
			if err := e.startElement(&t, prefixes); err != nil {
				return e.fail(err)
			}
			continue
		case xml.EndElement:
			if len(marks) == 0 {
				return fmt.Errorf("exi: parse XML: unexpected </%s>: %w", t.Name.Local, ErrInvalid)
			}
			scope = scope[:marks[len(marks)-1]]
			marks = marks[:len(marks)-1]
			tok = xml.EndElement{Name: names[len(names)-1]}
			names = names[:len(names)-1]
		}
		if err := e.EncodeToken(tok); err != nil {
			return err
		}
	}
	return nil
}
