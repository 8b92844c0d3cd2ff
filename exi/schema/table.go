package schema

import "fmt"

// Options are the EXI options that change event-code tables.
type Options struct {
	Strict           bool
	PreserveComments bool
	PreservePIs      bool
	PreserveDTD      bool
	PreservePrefixes bool
	SelfContained    bool
}

// Code is a production with its event code. Parts[:Len] are the code's
// parts; Sizes[k] is the number of distinct values at level k on this
// code's path, so part k is written in ceil(log2(Sizes[k])) bits
// (§6.2).
type Code struct {
	Production
	Parts [3]int
	Sizes [3]int
	Len   int
}

// Table is the complete event-code table of one non-terminal.
type Table struct {
	Codes []Code
}

// Table returns the event codes of non-terminal nt of grammar gi, with the
// undeclared productions of §8.5.4.4.1 added for options o. nillable and
// typeCastable describe the element the grammar is used for; they only
// matter in strict mode (xsi:nil and xsi:type are always allowed
// otherwise). The Next of an added production is End for EE, the same
// non-terminal for AT(*), xsi:*, NS and SC, and Content2 or the same
// non-terminal for SE(*), CH, ER, CM and PI. For SC, Next names the
// non-terminal to resume after the self-contained fragment.
func (g *Grammars) Table(gi, nt int, nillable, typeCastable bool, o Options) (Table, error) {
	if gi < 0 || gi >= len(g.Grammars) {
		return Table{}, fmt.Errorf("schema: grammar %d out of range", gi)
	}
	gr := &g.Grammars[gi]
	if nt < 0 || nt >= len(gr.NonTerminals) {
		return Table{}, fmt.Errorf("schema: non-terminal %d out of range in grammar %d", nt, gi)
	}
	n := &gr.NonTerminals[nt]
	mk := func(k EventKind, next int) Production { return Production{Event: k, Elem: -1, Type: -1, Next: next} }

	var second []Production
	var third [][]Production // third-level groups, parallel to second (nil when none)
	add := func(p Production, sub []Production) {
		second = append(second, p)
		third = append(third, sub)
	}
	hasEE := false
	for _, p := range n.Productions {
		if p.Event == EventEE {
			hasEE = true
		}
	}
	if o.Strict {
		if nt == 0 && typeCastable {
			add(mk(EventATXsiType, 0), nil)
		}
		if nt == 0 && nillable {
			add(mk(EventATXsiNil, 0), nil)
		}
	} else {
		if !hasEE {
			add(mk(EventEE, End), nil)
		}
		if nt == 0 {
			add(mk(EventATXsiType, 0), nil)
			add(mk(EventATXsiNil, 0), nil)
		}
		content2 := nt
		if n.StartTag {
			content2 = gr.Content2
			add(mk(EventATAny, nt), nil)
			var sub []Production
			for _, p := range n.Productions {
				if p.Event == EventAT {
					u := p
					u.Event, u.Type = EventATUntyped, -1
					sub = append(sub, u)
				}
			}
			sub = append(sub, mk(EventATAnyUntyped, nt))
			// The group's own second-level entry carries the first member.
			add(sub[0], sub)
		}
		if nt == 0 && o.PreservePrefixes {
			add(mk(EventNS, 0), nil)
		}
		if nt == 0 && o.SelfContained {
			add(mk(EventSC, 0), nil)
		}
		add(mk(EventSEAny, content2), nil)
		add(mk(EventCHUntyped, content2), nil)
		if o.PreserveDTD {
			add(mk(EventER, content2), nil)
		}
		if o.PreserveComments || o.PreservePIs {
			var sub []Production
			if o.PreserveComments {
				sub = append(sub, mk(EventCM, content2))
			}
			if o.PreservePIs {
				sub = append(sub, mk(EventPI, content2))
			}
			add(sub[0], sub)
		}
	}
	first := len(n.Productions)
	size1 := first
	if len(second) > 0 {
		size1++
	}
	var t Table
	for i, p := range n.Productions {
		t.Codes = append(t.Codes, Code{Production: p, Parts: [3]int{i}, Sizes: [3]int{size1}, Len: 1})
	}
	for m, p := range second {
		if third[m] == nil {
			t.Codes = append(t.Codes, Code{Production: p, Parts: [3]int{first, m}, Sizes: [3]int{size1, len(second)}, Len: 2})
			continue
		}
		for x, q := range third[m] {
			t.Codes = append(t.Codes, Code{Production: q, Parts: [3]int{first, m, x},
				Sizes: [3]int{size1, len(second), len(third[m])}, Len: 3})
		}
	}
	return t, nil
}

// Find returns the code of the first production matching k and name
// (name is ignored for kinds without one), or false.
func (t *Table) Find(k EventKind, name QName) (Code, bool) {
	for _, c := range t.Codes {
		if c.Event != k {
			continue
		}
		switch k {
		case EventAT, EventSE, EventATUntyped:
			if c.Name != name {
				continue
			}
		case EventATNS, EventSENS:
			if c.Name.URI != name.URI {
				continue
			}
		}
		return c, true
	}
	return Code{}, false
}
