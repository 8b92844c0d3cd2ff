package schema

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// nfa is a Thompson automaton over particle terms; symbols are numbered
// in order of first occurrence, which is EXI's "schema order".
type nfa struct {
	eps    [][]int
	tr     [][][2]int // per state: (symbol, target)
	syms   []symbol
	symOf  map[any]int
	budget int
}

type symbol struct {
	elem *xElem
	wild *xWild
}

func (a *nfa) state() (int, error) {
	if a.budget--; a.budget < 0 {
		return 0, fmt.Errorf("content model too large (more than %d positions)", maxExpansion)
	}
	a.eps = append(a.eps, nil)
	a.tr = append(a.tr, nil)
	return len(a.eps) - 1, nil
}

func (a *nfa) sym(key any, s symbol) int {
	if i, ok := a.symOf[key]; ok {
		return i
	}
	a.syms = append(a.syms, s)
	a.symOf[key] = len(a.syms) - 1
	return len(a.syms) - 1
}

// particle connects from → to through p.
func (a *nfa) particle(p *xParticle, from, to int) error {
	if p == nil {
		a.eps[from] = append(a.eps[from], to)
		return nil
	}
	cur := from
	for i := 0; i < p.min; i++ {
		mid, err := a.state()
		if err != nil {
			return err
		}
		if err := a.term(p, cur, mid); err != nil {
			return err
		}
		cur = mid
	}
	if p.max == unbounded {
		loop, err := a.state()
		if err != nil {
			return err
		}
		back, err := a.state()
		if err != nil {
			return err
		}
		a.eps[cur] = append(a.eps[cur], loop)
		if err := a.term(p, loop, back); err != nil {
			return err
		}
		a.eps[back] = append(a.eps[back], loop)
		a.eps[loop] = append(a.eps[loop], to)
		return nil
	}
	for i := p.min; i < p.max; i++ {
		a.eps[cur] = append(a.eps[cur], to)
		mid, err := a.state()
		if err != nil {
			return err
		}
		if err := a.term(p, cur, mid); err != nil {
			return err
		}
		cur = mid
	}
	a.eps[cur] = append(a.eps[cur], to)
	return nil
}

func (a *nfa) term(p *xParticle, from, to int) error {
	switch {
	case p.elem != nil:
		s := a.sym(p.elem, symbol{elem: p.elem})
		a.tr[from] = append(a.tr[from], [2]int{s, to})
	case p.wild != nil:
		s := a.sym(p.wild, symbol{wild: p.wild})
		a.tr[from] = append(a.tr[from], [2]int{s, to})
	case p.group != nil && p.group.kind == "sequence":
		cur := from
		for i, k := range p.group.parts {
			next := to
			if i < len(p.group.parts)-1 {
				var err error
				if next, err = a.state(); err != nil {
					return err
				}
			}
			if err := a.particle(k, cur, next); err != nil {
				return err
			}
			cur = next
		}
		if len(p.group.parts) == 0 {
			a.eps[from] = append(a.eps[from], to)
		}
	case p.group != nil: // choice, and all nested where EXI does not define it
		if len(p.group.parts) == 0 {
			a.eps[from] = append(a.eps[from], to)
		}
		for _, k := range p.group.parts {
			if err := a.particle(k, from, to); err != nil {
				return err
			}
		}
	}
	return nil
}

func (a *nfa) closure(set []int) []int {
	seen := map[int]bool{}
	stack := append([]int(nil), set...)
	for _, s := range set {
		seen[s] = true
	}
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, e := range a.eps[s] {
			if !seen[e] {
				seen[e] = true
				stack = append(stack, e)
			}
		}
	}
	out := make([]int, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	sort.Ints(out)
	return out
}

func setKey(set []int) string {
	var b strings.Builder
	for _, s := range set {
		b.WriteString(strconv.Itoa(s))
		b.WriteByte(',')
	}
	return b.String()
}

// protoNT is a non-terminal under construction.
type protoNT struct {
	startTag bool
	prods    []Production
}

// add appends a production unless an equal terminal is already present
// (the first one wins, as in EXIficient's addProduction).
func (n *protoNT) add(p Production) {
	for _, q := range n.prods {
		if q.Event == p.Event && q.Name == p.Name {
			switch p.Event {
			case EventAT, EventATNS, EventSE, EventSENS, EventATAny, EventSEAny, EventEE, EventCH, EventCHUntyped:
				return
			}
		}
	}
	n.prods = append(n.prods, p)
}

// contentStates builds the content non-terminals of a complex type with
// element or mixed content and appends them to nts; it returns the index
// of the first one.
func (c *compiler) contentStates(t *xType, nts *[]*protoNT) (int, error) {
	mixed := t.content == contentMixed
	first := len(*nts)
	p := t.particle
	if p != nil && p.group != nil && p.group.kind == "all" && p.max != 0 {
		// §8.5.4.1.8.3: all groups accept their particles in any order.
		nt := &protoNT{}
		*nts = append(*nts, nt)
		for _, k := range p.group.parts {
			if k.elem == nil || k.max == 0 {
				continue
			}
			for _, e := range c.substitutes(k.elem) {
				nt.add(Production{Event: EventSE, Name: e.name, Elem: e.idx, Type: -1, Next: first})
			}
		}
		nt.add(Production{Event: EventEE, Elem: -1, Type: -1, Next: End})
		if mixed {
			nt.add(Production{Event: EventCHUntyped, Elem: -1, Type: -1, Next: first})
		}
		return first, nil
	}
	a := &nfa{symOf: map[any]int{}, budget: maxExpansion}
	start, _ := a.state()
	final, _ := a.state()
	if err := a.particle(p, start, final); err != nil {
		return 0, c.errf(t.where(), "%v", err)
	}
	index := map[string]int{}
	var sets [][]int
	addSet := func(set []int) int {
		k := setKey(set)
		if i, ok := index[k]; ok {
			return i
		}
		*nts = append(*nts, &protoNT{})
		index[k] = len(*nts) - 1
		sets = append(sets, set)
		return len(*nts) - 1
	}
	addSet(a.closure([]int{start}))
	for i := 0; i < len(sets); i++ {
		if len(sets) > maxExpansion {
			return 0, c.errf(t.where(), "content model has too many states")
		}
		set := sets[i]
		self := first + i
		targets := make([][]int, len(a.syms))
		accept := false
		for _, s := range set {
			if s == final {
				accept = true
			}
			for _, tr := range a.tr[s] {
				targets[tr[0]] = append(targets[tr[0]], tr[1])
			}
		}
		for sym, tg := range targets {
			if len(tg) == 0 {
				continue
			}
			next := addSet(a.closure(tg))
			nt := (*nts)[self]
			s := a.syms[sym]
			switch {
			case s.elem != nil:
				for _, e := range c.substitutes(s.elem) {
					nt.add(Production{Event: EventSE, Name: e.name, Elem: e.idx, Type: -1, Next: next})
				}
			case s.wild.any:
				nt.add(Production{Event: EventSEAny, Elem: -1, Type: -1, Next: next})
			default:
				for _, u := range s.wild.uris {
					nt.add(Production{Event: EventSENS, Name: QName{URI: u}, Elem: -1, Type: -1, Next: next})
				}
			}
		}
		nt := (*nts)[self]
		if accept {
			nt.add(Production{Event: EventEE, Elem: -1, Type: -1, Next: End})
		}
		if mixed {
			nt.add(Production{Event: EventCHUntyped, Elem: -1, Type: -1, Next: self})
		}
	}
	return first, nil
}

// substitutes returns e and the members of its substitution group, sorted
// by local name then URI (§8.5.4.1.6).
func (c *compiler) substitutes(e *xElem) []*xElem {
	out := []*xElem{e}
	if !e.global {
		return out
	}
	for _, m := range c.elems {
		if m == e || !m.global {
			continue
		}
		for h, depth := m.subst, 0; h != nil && depth < 64; h, depth = h.subst, depth+1 {
			if h == e {
				out = append(out, m)
				break
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].name.Less(out[j].name) })
	return out
}

func (t *xType) where() *node {
	if t.node != nil {
		return t.node
	}
	return &node{name: QName{NSXSD, "complexType"}, attrs: map[string]string{"name": t.name.Local}, doc: &schemaDoc{file: "(built-in)"}}
}
