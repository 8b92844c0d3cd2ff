package iotcontrol

import (
	"errors"
	"fmt"
	"slices"

	"github.com/xiot/xiot/control"
	"github.com/xiot/xiot/internal/xmpp"
)

// problem is one parameter at fault, ranked by the XEP's error table:
// item-not-found (3) over bad-request (2) over conflict (1).
type problem struct {
	pe   ParamError
	rank int
	err  string
}

var conditions = map[int]*xmpp.StanzaError{
	3: {Type: "cancel", Condition: "item-not-found"},
	2: {Type: "modify", Condition: "bad-request"},
	1: {Type: "wait", Condition: "conflict"},
}

// problemOf maps one of the Controller's refusals to the XEP's table.
func problemOf(p control.Problem) problem {
	switch {
	case errors.Is(p.Err, control.ErrUnknownParam):
		return problem{ParamError{p.Name, TextNotFound}, 3, p.Err.Error()}
	case errors.Is(p.Err, control.ErrWrongType):
		return problem{ParamError{p.Name, TextWrongType}, 2, p.Err.Error()}
	case errors.Is(p.Err, control.ErrInterlock):
		return problem{ParamError{p.Name, TextLocked}, 1, p.Err.Error()}
	}
	return problem{ParamError{p.Name, TextWrongValue}, 2, p.Err.Error()}
}

// faultFrom builds the error reply of problems: the condition of the
// highest rank, every paramError, the first detail as text.
func faultFrom(probs []problem) *Fault {
	f := &Fault{}
	rank, text := 0, ""
	for _, p := range probs {
		if p.rank > rank {
			rank = p.rank
		}
		if text == "" {
			text = p.err
		}
		if !slices.Contains(f.Params, p.pe) {
			f.Params = append(f.Params, p.pe)
		}
	}
	c := conditions[max(rank, 1)]
	f.StanzaError = &xmpp.StanzaError{Type: c.Type, Condition: c.Condition, Text: text}
	return f
}

func faultOf(se *control.SetError) *Fault {
	probs := make([]problem, len(se.Problems))
	for i, p := range se.Problems {
		probs[i] = problemOf(p)
	}
	return faultFrom(probs)
}

// resolve turns a decoded set into changes: typed parameters and form
// fields are matched against the parameters of the addressed nodes (all
// nodes having a parameter of that name when the set names none). Every
// problem is reported, including the Controller's verdict on the changes
// that did resolve, in the order of the request.
func (s *Server) resolve(set SetRequest) (control.Request, []string, *Fault) {
	var req control.Request
	var nodes []string
	for _, n := range set.Nodes {
		if !slices.Contains(s.ctl.Nodes(), n.NodeID) {
			return req, nil, &Fault{StanzaError: xmpp.NewStanzaError("cancel", "item-not-found", "Node not found: "+n.NodeID)}
		}
		if !slices.Contains(nodes, n.NodeID) {
			nodes = append(nodes, n.NodeID)
		}
	}
	type raw struct {
		name, value string
		typ         control.Type // TypeNone for a form field (weakly typed)
	}
	var raws []raw
	for _, p := range set.Params {
		raws = append(raws, raw{p.Name, p.Value, p.Type})
	}
	for _, f := range set.Form {
		if f.Var == SessionVar || len(f.Values) == 0 {
			continue
		}
		raws = append(raws, raw{f.Var, f.Values[0], control.TypeNone})
	}
	// probs[i] are the problems of raws[i].
	probs := make([][]problem, len(raws))
	failed := false
	used := []string{}
	for i, r := range raws {
		fail := func(text string, rank int, detail string) {
			probs[i] = append(probs[i], problem{ParamError{r.name, text}, rank, detail})
			failed = true
		}
		if r.name == OverrideParam {
			d, err := control.Parse(control.TypeDuration, r.value)
			dur, _ := d.AsDuration()
			switch {
			case r.typ != control.TypeNone && r.typ != control.TypeDuration:
				fail(TextWrongType, 2, OverrideParam+" is a duration")
			case err != nil || dur <= 0:
				fail(TextWrongValue, 2, OverrideParam+" must be a positive duration")
			default:
				req.Override = dur
			}
			continue
		}
		targets := s.targets(r.name, nodes)
		if len(targets) == 0 {
			fail(TextNotFound, 3, "no parameter "+r.name)
			continue
		}
		for _, p := range targets {
			if r.typ != control.TypeNone && r.typ != p.Type {
				fail(TextWrongType, 2, fmt.Sprintf("%s is a %s, not a %s", r.name, p.Type, r.typ))
				break
			}
			v, err := control.Parse(p.Type, r.value)
			if err != nil {
				fail(TextWrongValue, 2, err.Error())
				break
			}
			req.Changes = append(req.Changes, control.Change{Node: p.Node, Name: p.Name, Value: v})
			if !slices.Contains(used, p.Node) {
				used = append(used, p.Node)
			}
		}
	}
	if len(nodes) == 0 {
		nodes = used
	}
	if !failed {
		if req.Override > 0 && len(req.Changes) == 0 {
			return req, nodes, &Fault{StanzaError: xmpp.NewStanzaError("modify", "bad-request", OverrideParam+" without a parameter to override")}
		}
		return req, nodes, nil
	}
	var se *control.SetError
	if errors.As(s.ctl.Check(req), &se) {
		for _, p := range se.Problems {
			for i, r := range raws {
				if r.name == p.Name && len(probs[i]) == 0 {
					probs[i] = append(probs[i], problemOf(p))
					break
				}
			}
		}
	}
	var all []problem
	for _, ps := range probs {
		all = append(all, ps...)
	}
	return req, nodes, faultFrom(all)
}

// targets returns the parameters called name on nodes, or on every node
// when nodes is empty. With nodes given, every node must have it.
func (s *Server) targets(name string, nodes []string) []control.Param {
	var out []control.Param
	if len(nodes) == 0 {
		for _, p := range s.ctl.Params() {
			if p.Name == name {
				out = append(out, p)
			}
		}
		return out
	}
	for _, n := range nodes {
		p, ok := s.ctl.Lookup(n, name)
		if !ok {
			return nil
		}
		out = append(out, p)
	}
	return out
}
