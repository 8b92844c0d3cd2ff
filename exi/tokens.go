package exi

import (
	"encoding/xml"
	"errors"
	"io"
)

// Token returns the next XML token: xml.StartElement (Name.Space is the
// namespace URI; with Preserve.Prefixes namespace declarations appear as
// xmlns attributes), xml.EndElement, xml.CharData, xml.Comment,
// xml.ProcInst or xml.Directive (a DOCTYPE). It returns io.EOF after the
// end of the document.
func (d *Decoder) Token() (xml.Token, error) {
	if err := d.begin(); err != nil {
		return nil, err
	}
	for {
		ev, err := d.next()
		if err != nil {
			return nil, err
		}
		switch ev.kind {
		case evSE:
			ln := ev.ln // ev is reused by the events gatherAttrs reads
			name := xml.Name{Space: ln.uri.name, Local: ln.name}
			d.attrs = d.attrs[:0]
			if err := d.gatherAttrs(nil); err != nil {
				return nil, err
			}
			d.names = append(d.names, ln)
			return xml.StartElement{Name: name, Attr: d.attrs}, nil
		case evEE:
			if len(d.names) == 0 {
				return nil, d.setErr(d.malformed("unbalanced end element"))
			}
			ln := d.names[len(d.names)-1]
			d.names = d.names[:len(d.names)-1]
			if ln.endTok == nil {
				// boxed once per name: the token is immutable
				ln.endTok = xml.EndElement{Name: xml.Name{Space: ln.uri.name, Local: ln.name}}
			}
			return ln.endTok, nil
		case evCH:
			d.cd = append(d.cd[:0], ev.value...)
			return xml.CharData(d.cd), nil
		case evCM:
			d.cd = append(d.cd[:0], ev.value...)
			return xml.Comment(d.cd), nil
		case evPI:
			d.cd = append(d.cd[:0], ev.value...)
			return xml.ProcInst{Target: ev.prefix, Inst: d.cd}, nil
		case evDT:
			d.cd = appendDoctype(d.cd[:0], ev)
			return xml.Directive(d.cd[2 : len(d.cd)-1]), nil
		case evER:
			d.cd = append(append(append(d.cd[:0], '&'), ev.value...), ';')
			return xml.CharData(d.cd), nil
		case evED:
			return nil, io.EOF
		}
	}
}

// gatherAttrs reads the AT and NS events after an SE. With sink nil they
// go to d.attrs as xml.Attr.
func (d *Decoder) gatherAttrs(sink func(*event)) error {
	for {
		ev, err := d.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return d.setErr(d.malformed("stream ends inside a start tag"))
			}
			return err
		}
		switch ev.kind {
		case evNone:
			continue
		case evAT, evNS:
			if sink != nil {
				sink(ev)
				continue
			}
			if ev.kind == evAT {
				d.attrs = append(d.attrs, xml.Attr{Name: xml.Name{Space: ev.ln.uri.name, Local: ev.ln.name}, Value: ev.value})
			} else if ev.prefix == "" {
				d.attrs = append(d.attrs, xml.Attr{Name: xml.Name{Local: "xmlns"}, Value: ev.uri})
			} else {
				d.attrs = append(d.attrs, xml.Attr{Name: xml.Name{Space: "xmlns", Local: ev.prefix}, Value: ev.uri})
			}
			continue
		}
		d.unread()
		return nil
	}
}

func appendDoctype(b []byte, ev *event) []byte {
	b = append(b, "<!DOCTYPE "...)
	b = append(b, ev.prefix...)
	switch {
	case ev.pub != "":
		b = append(b, " PUBLIC \""...)
		b = append(b, ev.pub...)
		b = append(b, "\" \""...)
		b = append(b, ev.sys...)
		b = append(b, '"')
	case ev.sys != "":
		b = append(b, " SYSTEM \""...)
		b = append(b, ev.sys...)
		b = append(b, '"')
	}
	if ev.value != "" {
		b = append(b, " ["...)
		b = append(b, ev.value...)
		b = append(b, ']')
	}
	return append(b, '>')
}
