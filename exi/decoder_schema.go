package exi

import (
	"fmt"

	"github.com/xiot/xiot/exi/schema"
)

// decodeSchemaEvent decodes an event inside an element that uses a
// schema-informed grammar.
func (d *Decoder) decodeSchemaEvent(ev *event, f *dframe) error {
	*ev = event{}
	tab, err := d.sg.tableOf(&f.sc)
	if err != nil {
		return d.r.fail(err)
	}
	c, err := tab.read(&d.r)
	if err != nil {
		return err
	}
	next := func() {
		if c.Next != schema.End {
			f.sc.nt = int32(c.Next)
		}
	}
	switch c.Event {
	case schema.EventSE, schema.EventSENS, schema.EventSEAny:
		ev.kind = evSE
		el := -1
		switch c.Event {
		case schema.EventSE:
			ev.ln = d.t.lookupLocal(c.Name.URI, c.Name.Local)
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
			ev.ln = d.t.lookupLocal(c.Name.URI, c.Name.Local)
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
		d.sg.switchType(&f.sc, ev.tq)
		return nil
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
		d.stack = d.stack[:len(d.stack)-1]
		if f.scInner {
			return d.malformed("self-contained element in a schema-informed grammar")
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
