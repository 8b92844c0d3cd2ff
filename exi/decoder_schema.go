package exi

import (
	"fmt"
	"strings"

	"github.com/xiot/xiot/exi/schema"
)

// decodeSchemaEvent decodes an event inside an element that uses a
// schema-informed grammar.
func (d *Decoder) decodeSchemaEvent(ev *event, f *dframe) error {
	tab, err := d.sg.tableOf(&f.sc)
	if err != nil {
		return d.r.fail(err)
	}
	ci, err := tab.read(&d.r)
	if err != nil {
		return err
	}
	c := &tab.Codes[ci]
	next := func() {
		if c.Next != schema.End {
			// with the next table at hand, kept per code
			d.sg.advance(&f.sc, tab, ci)
		}
	}
	switch c.Event {
	case schema.EventSE, schema.EventSENS, schema.EventSEAny:
		ev.kind = evSE
		el := -1
		switch c.Event {
		case schema.EventSE:
			ev.ln = tab.localName(ci, d.t)
			el = c.Elem
		case schema.EventSENS:
			u := d.t.uriIdx[c.Name.URI]
			if u == nil {
				u = d.t.addURI(c.Name.URI)
			}
			if ev.ln, err = d.t.decodeLocal(&d.r, u); err != nil {
				return err
			}
		default:
			if ev.ln, err = d.t.decodeQName(&d.r); err != nil {
				return err
			}
		}
		next()
		return d.pushSE(ev, el)
	case schema.EventAT, schema.EventATUntyped, schema.EventATNS, schema.EventATAny, schema.EventATAnyUntyped:
		ev.kind = evAT
		dt := dtString
		switch c.Event {
		case schema.EventAT, schema.EventATUntyped:
			ev.ln = tab.localName(ci, d.t)
			if c.Event == schema.EventAT {
				dt = c.Type
			}
		case schema.EventATNS:
			u := d.t.uriIdx[c.Name.URI]
			if u == nil {
				u = d.t.addURI(c.Name.URI)
			}
			if ev.ln, err = d.t.decodeLocal(&d.r, u); err != nil {
				return err
			}
			dt = d.sg.globalAttr(ev.ln)
		default:
			if ev.ln, err = d.t.decodeQName(&d.r); err != nil {
				return err
			}
			if c.Event == schema.EventATAny {
				dt = d.sg.globalAttr(ev.ln)
			}
		}
		if err := d.prefix(ev); err != nil {
			return err
		}
		next()
		return d.value(ev, ev.ln, dt)
	case schema.EventATXsiType:
		ev.kind = evAT
		ev.ln = d.t.lookupLocal(nsXSI, "type")
		if err := d.prefix(ev); err != nil {
			return err
		}
		return d.typeValue(ev, &f.sc)
	case schema.EventATXsiNil:
		ev.kind = evAT
		ev.ln = d.t.lookupLocal(nsXSI, "nil")
		if err := d.prefix(ev); err != nil {
			return err
		}
		v, err := d.r.readBool()
		if err != nil {
			return err
		}
		ev.value = "false"
		if v {
			ev.value = "true"
			d.sg.switchNil(&f.sc)
		}
		return nil
	case schema.EventCH, schema.EventCHUntyped:
		ev.kind = evCH
		ev.ln = f.ln
		dt := dtString
		if c.Event == schema.EventCH {
			dt = c.Type
		}
		next()
		return d.value(ev, f.ln, dt)
	case schema.EventEE:
		ev.kind = evEE
		ev.ln = f.ln
		d.nsScope = d.nsScope[:f.nsMark]
		d.stack = d.stack[:len(d.stack)-1]
		if f.scInner {
			if err := d.endSC(); err != nil {
				return err
			}
		}
		if len(d.stack) == 0 && d.state != stFragment {
			d.state = stDocEnd
		}
		return nil
	case schema.EventNS:
		ev.kind = evNS
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
		return nil
	case schema.EventSC:
		if err := d.startSC(); err != nil {
			return err
		}
		ev.kind = evNone
		return nil
	case schema.EventCM:
		ev.kind = evCM
		next()
		ev.value, err = d.r.readString()
		return err
	case schema.EventPI:
		ev.kind = evPI
		next()
		if ev.prefix, err = d.r.readString(); err != nil {
			return err
		}
		ev.value, err = d.r.readString()
		return err
	case schema.EventER:
		ev.kind = evER
		next()
		ev.value, err = d.r.readString()
		return err
	}
	return d.r.fail(fmt.Errorf("event %v in a schema-informed element: %w", c.Event, ErrUnsupported))
}

// typeValue decodes the value of an xsi:type attribute (a QName, or with
// Preserve.lexicalValues a string resolved with the namespace declarations
// in scope) and switches the element's grammar.
func (d *Decoder) typeValue(ev *event, sc *sctx) error {
	var err error
	if d.opts.Preserve.LexicalValues {
		if ev.value, err = d.t.decodeValue(&d.r, &d.opts, ev.ln, nil); err != nil {
			return err
		}
		prefix, local, found := strings.Cut(strings.TrimSpace(ev.value), ":")
		if !found {
			prefix, local = "", prefix
		}
		uri, ok := d.resolvePrefix(prefix)
		if ok && d.t.uriIdx[uri] != nil {
			ev.tq = d.t.uriIdx[uri].localIdx[local]
		}
	} else {
		if ev.tq, err = d.t.decodeQName(&d.r); err != nil {
			return err
		}
		var tp event
		tp.ln = ev.tq
		if err := d.prefix(&tp); err != nil {
			return err
		}
		ev.pub = tp.prefix
		ev.value = "{" + ev.tq.uri.name + "}" + ev.tq.name
		if d.opts.Preserve.Prefixes {
			ev.value = ev.tq.name
			if tp.prefix != "" {
				ev.value = tp.prefix + ":" + ev.tq.name
			}
		}
	}
	if d.sg != nil && ev.tq != nil {
		d.sg.switchType(sc, ev.tq)
	}
	return nil
}

// resolvePrefix maps a prefix to its namespace with the NS events in
// scope (Preserve.prefixes).
func (d *Decoder) resolvePrefix(prefix string) (string, bool) {
	if prefix == "xml" {
		return nsXML, true
	}
	for i := len(d.nsScope) - 1; i >= 0; i-- {
		if d.nsScope[i].prefix == prefix {
			return d.nsScope[i].uri, true
		}
	}
	return "", prefix == ""
}
