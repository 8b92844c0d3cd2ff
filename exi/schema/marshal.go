package schema

import (
	"bytes"
	"encoding/gob"
	"fmt"
)

// wire has Grammars' fields without its methods, so gob does not call
// MarshalBinary recursively.
type wire Grammars

// MarshalBinary serialises the compiled grammars (gob), so a device can
// load them without parsing XSD.
func (g *Grammars) MarshalBinary() ([]byte, error) {
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode((*wire)(g)); err != nil {
		return nil, fmt.Errorf("schema: marshal grammars: %w", err)
	}
	return b.Bytes(), nil
}

// UnmarshalBinary restores grammars written by MarshalBinary and checks
// that every index in them is in range, so hostile input cannot make the
// codec index out of bounds.
func (g *Grammars) UnmarshalBinary(data []byte) error {
	var x Grammars
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode((*wire)(&x)); err != nil {
		return fmt.Errorf("schema: unmarshal grammars: %w", err)
	}
	if err := x.validate(); err != nil {
		return err
	}
	*g = x
	return nil
}

// validate checks the cross references of g.
func (g *Grammars) validate() error {
	nd, nt, ne, ng := len(g.Datatypes), len(g.Types), len(g.Elements), len(g.Grammars)
	in := func(i, n int) bool { return i >= 0 && i < n }
	for i, d := range g.Datatypes {
		if (d.Rep == RepList && !in(d.Item, nd)) || (d.EnumBase != -1 && !in(d.EnumBase, nd)) {
			return fmt.Errorf("schema: datatype %d: bad reference", i)
		}
	}
	for i, t := range g.Types {
		if !in(t.Grammar, ng) || !in(t.Empty, ng) || (t.Simple != -1 && !in(t.Simple, nd)) || (t.Base != -1 && !in(t.Base, nt)) {
			return fmt.Errorf("schema: type %d: bad reference", i)
		}
	}
	for i, e := range g.Elements {
		if !in(e.Type, nt) {
			return fmt.Errorf("schema: element %d: bad type", i)
		}
	}
	for gi, gr := range g.Grammars {
		if len(gr.NonTerminals) == 0 || !in(gr.Content2, len(gr.NonTerminals)) {
			return fmt.Errorf("schema: grammar %d: empty or bad content index", gi)
		}
		for _, n := range gr.NonTerminals {
			for _, p := range n.Productions {
				if (p.Next != End && !in(p.Next, len(gr.NonTerminals))) ||
					(p.Event == EventSE && !in(p.Elem, ne)) ||
					((p.Event == EventAT || p.Event == EventCH) && !in(p.Type, nd)) {
					return fmt.Errorf("schema: grammar %d: bad production", gi)
				}
			}
		}
	}
	for q, i := range g.GlobalElements {
		if !in(i, ne) {
			return fmt.Errorf("schema: global element %s: bad index", q)
		}
	}
	for q, i := range g.GlobalTypes {
		if !in(i, nt) {
			return fmt.Errorf("schema: global type %s: bad index", q)
		}
	}
	for q, i := range g.GlobalAttributes {
		if !in(i, nd) {
			return fmt.Errorf("schema: global attribute %s: bad index", q)
		}
	}
	return nil
}
