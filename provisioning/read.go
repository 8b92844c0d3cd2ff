package provisioning

import (
	"context"
	"fmt"
	"slices"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/sensors"
)

// CanRead asks whether JID may read the listed nodes and fields of the
// given field types (§3.3). Nodes and Fields empty mean all; Types zero
// names no type (the attributes are left out).
type CanRead struct {
	JID    string
	Types  sensors.ReadoutType
	Nodes  []NodeRef
	Fields []string
	Tokens Tokens
}

// Element returns the canRead element.
func (q CanRead) Element() *xmpp.Element {
	e := jidElement("canRead", q.JID)
	setTypes(e, q.Types)
	q.Tokens.set(e)
	addNodes(e, q.Nodes)
	addNames(e, "field", q.Fields)
	return e
}

// CanReadResponse answers a CanRead. With Result true, Nodes and Fields
// restrict the readout to those listed; empty lists restrict nothing
// (§3.3.2, §3.3.3). Types echoes or narrows the requested field types.
type CanReadResponse struct {
	JID    string
	Result bool
	Types  sensors.ReadoutType
	Nodes  []NodeRef
	Fields []string
}

// Element returns the canReadResponse element.
func (r CanReadResponse) Element() *xmpp.Element {
	e := jidElement("canReadResponse", r.JID)
	setTypes(e, r.Types)
	e.Set("result", formatBool(r.Result))
	addNodes(e, r.Nodes)
	addNames(e, "field", r.Fields)
	return e
}

func parseCanRead(e *xmpp.Element) (CanRead, error) {
	var q CanRead
	var err error
	if q.JID, err = requiredJID(e); err != nil {
		return q, err
	}
	if q.Types, err = parseTypes(e); err != nil {
		return q, err
	}
	q.Tokens = decodeTokens(e)
	q.Nodes, q.Fields, err = parseNodesAndNames(e, "field")
	return q, err
}

func parseCanReadResponse(e *xmpp.Element) (CanReadResponse, error) {
	var r CanReadResponse
	var err error
	if r.JID, err = requiredJID(e); err != nil {
		return r, err
	}
	if r.Result, err = parseResult(e); err != nil {
		return r, err
	}
	if r.Types, err = parseTypes(e); err != nil {
		return r, err
	}
	r.Nodes, r.Fields, err = parseNodesAndNames(e, "field")
	return r, err
}

func addNodes(e *xmpp.Element, nodes []NodeRef) {
	for _, n := range nodes {
		e.Add(n.element())
	}
}

func addNames(e *xmpp.Element, local string, names []string) {
	for _, n := range names {
		c := xmpp.NewElement(NS, local)
		c.Attr = append(c.Attr, attr("name", n))
		e.Add(c)
	}
}

// parseNodesAndNames reads the node children and the named children
// (field or parameter); other children are ignored, as future versions
// may add some.
func parseNodesAndNames(e *xmpp.Element, local string) ([]NodeRef, []string, error) {
	var nodes []NodeRef
	var names []string
	for _, c := range e.Children() {
		switch c.Name.Local {
		case "node":
			n, err := parseNodeRef(e.Name.Local, c)
			if err != nil {
				return nil, nil, err
			}
			nodes = append(nodes, n)
		case local:
			if !c.Has("name") {
				return nil, nil, fmt.Errorf("%w: %s %s without name", ErrMalformed, e.Name.Local, local)
			}
			names = append(names, c.Get("name"))
		}
	}
	return nodes, names, nil
}

// AskRead returns the provisioning server's answer to q, from the cache
// when the same question was answered before. q.JID may be the requester's
// full JID: the question names its bare JID, as the server ignores
// resources, and token challenges are passed on to the full JID.
func (c *Client) AskRead(ctx context.Context, q CanRead) (CanReadResponse, error) {
	origin, err := jid.Parse(q.JID)
	if err != nil {
		return CanReadResponse{}, fmt.Errorf("provisioning: canRead for %q: %w", q.JID, err)
	}
	return c.askRead(ctx, q, origin)
}

// askRead is AskRead for a requester already parsed.
func (c *Client) askRead(ctx context.Context, q CanRead, origin jid.JID) (CanReadResponse, error) {
	bare := origin.Bare()
	who := bare.String()
	q.JID = who
	c.noteTokens(q.Tokens, origin)
	v, err := c.ask(ctx, question{kind: "canRead", who: who, key: readKey(q), q: q},
		func(e *xmpp.Element) (any, error) {
			if e == nil || e.Name.Local != "canReadResponse" {
				return nil, fmt.Errorf("%w: want canReadResponse", ErrMalformed)
			}
			r, err := parseCanReadResponse(e)
			if err != nil {
				return nil, err
			}
			if !sameBare(r.JID, bare) {
				return nil, fmt.Errorf("%w: canReadResponse is about %q, not %s", ErrMalformed, r.JID, who)
			}
			return r, nil
		})
	if err != nil {
		return CanReadResponse{}, err
	}
	return v.(CanReadResponse), nil
}

// CanRead decides what from may read of nodes and fields (empty: all), in
// the shape of sensordata.Authorizer: nil allowed means no restriction, an
// empty non-nil slice means nothing (the server said no), an error means
// no decision (server unreachable, timed out or answering nonsense) and
// must refuse. The requester's tokens and field types travel in ctx (see
// WithTokens, WithReadoutTypes).
//
// The hook can only narrow fields. When the server allows only some of the
// requested nodes, or fewer field types than requested, CanRead refuses
// with an error naming what was allowed; AskRead gives the full answer.
func (c *Client) CanRead(ctx context.Context, from jid.JID, nodes, fields []string) ([]string, error) {
	types := readoutTypesFrom(ctx)
	q := CanRead{JID: from.String(), Types: types, Nodes: nodeRefs(nodes), Fields: fields, Tokens: tokensFrom(ctx)}
	r, err := c.askRead(ctx, q, from)
	if err != nil {
		return nil, err
	}
	if !r.Result {
		return []string{}, nil
	}
	if missing := missingNodes(q.Nodes, r.Nodes); len(missing) > 0 {
		return nil, fmt.Errorf("provisioning: %s may read only nodes %s, not %v: %w", from.Bare(), nodeIDs(r.Nodes), missing, ErrPartialNodes)
	}
	if types != 0 && r.Types&sensors.AllTypes != 0 && !r.Types.Has(types&sensors.AllTypes) {
		return nil, fmt.Errorf("provisioning: %s may read only field types %s, not %s: %w", from.Bare(), r.Types, types, ErrPartialTypes)
	}
	if len(r.Fields) == 0 {
		return nil, nil
	}
	if len(fields) == 0 {
		return slices.Clone(r.Fields), nil
	}
	allowed := []string{}
	for _, f := range fields {
		if slices.Contains(r.Fields, f) {
			allowed = append(allowed, f)
		}
	}
	return allowed, nil
}

// nodeRefs turns node ids into references; "" (the device itself) is no
// node behind it and is left out.
func nodeRefs(ids []string) []NodeRef {
	var out []NodeRef
	for _, id := range ids {
		if id != "" {
			out = append(out, NodeRef{NodeID: id})
		}
	}
	return out
}

// missingNodes lists the requested node ids the answer leaves out; an
// answer without nodes allows all.
func missingNodes(asked, allowed []NodeRef) []string {
	if len(allowed) == 0 {
		return nil
	}
	var out []string
	for _, a := range asked {
		if !slices.ContainsFunc(allowed, func(n NodeRef) bool { return n.NodeID == a.NodeID }) {
			out = append(out, a.NodeID)
		}
	}
	return out
}

// readKey is the cache key of a canRead question whose JID is bare.
func readKey(q CanRead) string {
	return keyOf("canRead", q.JID, q.Types.String(), q.Tokens.Service, q.Tokens.Device, q.Tokens.User, nodesKey(q.Nodes), namesKey(q.Fields))
}
