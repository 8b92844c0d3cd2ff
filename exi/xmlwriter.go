package exi

import (
	"bytes"
	"errors"
	"io"
	"strconv"
)

// DecodeToXML decodes an EXI stream to XML text. Without
// Preserve.Prefixes the prefixes are invented (ns0, ns1, ...).
func DecodeToXML(exi []byte, opts Options) ([]byte, error) {
	d := NewDecoder(bytes.NewReader(exi), opts)
	var w xmlWriter
	if err := w.run(d); err != nil {
		return nil, err
	}
	return w.buf, nil
}

type xmlWriter struct {
	buf   []byte
	scope []nsDecl // in-scope prefix bindings
	marks []int
	names [][]byte // qualified names of open elements
	open  bool     // a start tag is not yet closed
	gen   int
	decl  []nsDecl // scratch: declarations of the current element
	ats   []event
	pend  []nsDecl
}

func (w *xmlWriter) run(d *Decoder) error {
	if err := d.begin(); err != nil {
		return err
	}
	if !d.opts.Fragment {
		w.buf = append(w.buf, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"...)
	}
	pre := d.opts.Preserve.Prefixes
	for {
		ev, err := d.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if ev.kind != evSE && ev.kind != evNone {
			w.closeTag()
		}
		switch ev.kind {
		case evSE:
			w.closeTag()
			ln, prefix := ev.ln, ev.prefix
			w.decl, w.ats = w.decl[:0], w.ats[:0]
			err := d.gatherAttrs(func(a *event) {
				if a.kind == evNS {
					w.decl = append(w.decl, nsDecl{a.prefix, a.uri})
					if a.local {
						prefix = a.prefix
					}
					return
				}
				w.ats = append(w.ats, *a)
			})
			if err != nil {
				return err
			}
			w.marks = append(w.marks, len(w.scope))
			w.scope = append(w.scope, w.decl...)
			w.pend = w.pend[:0]
			if !pre {
				prefix = w.bind(ln.uri.name, false, true)
			}
			start := len(w.buf)
			w.buf = append(w.buf, '<')
			w.appendQName(prefix, ln.name)
			w.names = append(w.names, append([]byte(nil), w.buf[start+1:]...))
			w.decl = append(w.decl, w.pend...)
			for _, dcl := range w.decl {
				w.appendDecl(dcl)
			}
			for i := range w.ats {
				a := &w.ats[i]
				p := a.prefix
				if !pre || (p == "" && a.ln.uri.name != "") {
					p = w.bind(a.ln.uri.name, true, false)
				}
				v := a.value
				if a.tq != nil && !pre {
					v = a.tq.name
					if tp := w.bind(a.tq.uri.name, true, false); tp != "" {
						v = tp + ":" + v
					}
				}
				w.buf = append(w.buf, ' ')
				w.appendQName(p, a.ln.name)
				w.buf = append(w.buf, "=\""...)
				w.buf = appendEscaped(w.buf, v, true)
				w.buf = append(w.buf, '"')
			}
			w.open = true
		case evEE:
			n := len(w.names) - 1
			if w.open {
				w.buf = append(w.buf, "/>"...)
				w.open = false
			} else {
				w.buf = append(append(append(w.buf, "</"...), w.names[n]...), '>')
			}
			w.names = w.names[:n]
			w.scope = w.scope[:w.marks[len(w.marks)-1]]
			w.marks = w.marks[:len(w.marks)-1]
		case evCH:
			w.buf = appendEscaped(w.buf, ev.value, false)
		case evCM:
			w.buf = append(append(append(w.buf, "<!--"...), ev.value...), "-->"...)
		case evPI:
			w.buf = append(append(w.buf, "<?"...), ev.prefix...)
			if ev.value != "" {
				w.buf = append(append(w.buf, ' '), ev.value...)
			}
			w.buf = append(w.buf, "?>"...)
		case evDT:
			w.buf = append(appendDoctype(w.buf, ev), '\n')
		case evER:
			w.buf = append(append(append(w.buf, '&'), ev.value...), ';')
		}
	}
}

func (w *xmlWriter) closeTag() {
	if w.open {
		w.buf = append(w.buf, '>')
		w.open = false
	}
}

func (w *xmlWriter) appendQName(prefix, local string) {
	if prefix != "" {
		w.buf = append(append(w.buf, prefix...), ':')
	}
	w.buf = append(w.buf, local...)
}

func (w *xmlWriter) appendDecl(d nsDecl) {
	w.buf = append(w.buf, " xmlns"...)
	if d.prefix != "" {
		w.buf = append(append(w.buf, ':'), d.prefix...)
	}
	w.buf = append(w.buf, "=\""...)
	w.buf = appendEscaped(w.buf, d.uri, true)
	w.buf = append(w.buf, '"')
}

// bind returns a prefix bound to uri, declaring an invented one on the
// current start tag when none is in scope.
func (w *xmlWriter) bind(uri string, attr, deferred bool) string {
	switch uri {
	case "":
		return ""
	case nsXML:
		return "xml"
	}
	for i := len(w.scope) - 1; i >= 0; i-- {
		if s := w.scope[i]; s.uri == uri && (s.prefix != "" || !attr) {
			return s.prefix
		}
	}
	p := "ns" + strconv.Itoa(w.gen)
	w.gen++
	d := nsDecl{p, uri}
	w.scope = append(w.scope, d)
	if deferred {
		w.pend = append(w.pend, d)
	} else {
		w.appendDecl(d)
	}
	return p
}

func appendEscaped(b []byte, s string, attr bool) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '&':
			b = append(b, "&amp;"...)
		case c == '<':
			b = append(b, "&lt;"...)
		case c == '>' && !attr:
			b = append(b, "&gt;"...)
		case attr && c == '"':
			b = append(b, "&quot;"...)
		case attr && c == '\t':
			b = append(b, "&#x9;"...)
		case c == '\n' && attr:
			b = append(b, "&#xA;"...)
		case c == '\r':
			b = append(b, "&#xD;"...)
		default:
			b = append(b, c)
		}
	}
	return b
}
