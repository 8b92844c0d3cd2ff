package provisioning

import (
	"context"
	"fmt"
	"slices"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/internal/xmpp"
)

// CanControl asks whether JID may set the listed parameters on the listed
// nodes (§3.4). Nodes empty means the device itself (or all nodes).
type CanControl struct {
	JID    string
	Nodes  []NodeRef
	Params []string
	Tokens Tokens
}

// Element returns the canControl element.
func (q CanControl) Element() *xmpp.Element {
	e := jidElement("canControl", q.JID)
	q.Tokens.set(e)
	addNodes(e, q.Nodes)
	addNames(e, "parameter", q.Params)
	return e
}

// CanControlResponse answers a CanControl. With Result true, Nodes and
// Params restrict the control action to those listed; empty lists restrict
// nothing (§3.4.2, §3.4.3).
type CanControlResponse struct {
	JID    string
	Result bool
	Nodes  []NodeRef
	Params []string
}

// Element returns the canControlResponse element.
func (r CanControlResponse) Element() *xmpp.Element {
	e := jidElement("canControlResponse", r.JID)
	e.Set("result", formatBool(r.Result))
	addNodes(e, r.Nodes)
	addNames(e, "parameter", r.Params)
	return e
}

func parseCanControl(e *xmpp.Element) (CanControl, error) {
	var q CanControl
	var err error
	if q.JID, err = requiredJID(e); err != nil {
		return q, err
	}
	q.Tokens = decodeTokens(e)
	q.Nodes, q.Params, err = parseNodesAndNames(e, "parameter")
	return q, err
}

func parseCanControlResponse(e *xmpp.Element) (CanControlResponse, error) {
	var r CanControlResponse
	var err error
	if r.JID, err = requiredJID(e); err != nil {
		return r, err
	}
	if r.Result, err = parseResult(e); err != nil {
		return r, err
	}
	r.Nodes, r.Params, err = parseNodesAndNames(e, "parameter")
	return r, err
}

// AskControl returns the provisioning server's answer to q, from the cache
// when the same question was answered before. q.JID may be the requester's
// full JID, as for AskRead.
func (c *Client) AskControl(ctx context.Context, q CanControl) (CanControlResponse, error) {
	origin, err := jid.Parse(q.JID)
	if err != nil {
		return CanControlResponse{}, fmt.Errorf("provisioning: canControl for %q: %w", q.JID, err)
	}
	return c.askControl(ctx, q, origin)
}

// askControl is AskControl for a requester already parsed.
func (c *Client) askControl(ctx context.Context, q CanControl, origin jid.JID) (CanControlResponse, error) {
	bare := origin.Bare()
	who := bare.String()
	q.JID = who
	c.noteTokens(q.Tokens, origin)
	v, err := c.ask(ctx, question{kind: "canControl", who: who, key: controlKey(q), q: q},
		func(e *xmpp.Element) (any, error) {
			if e == nil || e.Name.Local != "canControlResponse" {
				return nil, fmt.Errorf("%w: want canControlResponse", ErrMalformed)
			}
			r, err := parseCanControlResponse(e)
			if err != nil {
				return nil, err
			}
			if !sameBare(r.JID, bare) {
				return nil, fmt.Errorf("%w: canControlResponse is about %q, not %s", ErrMalformed, r.JID, who)
			}
			return r, nil
		})
	if err != nil {
		return CanControlResponse{}, err
	}
	return v.(CanControlResponse), nil
}

// CanControl decides which of params from may set on nodes ("" is the
// device itself), in the shape of iotcontrol.Authorizer: it returns the
// allowed subset of params (all of them when the server restricts
// nothing), an empty non-nil slice when the server says no, and an error
// when there is no decision (server unreachable, timed out or answering
// nonsense), which must refuse. The requester's tokens travel in ctx (see
// WithTokens).
//
// The hook can only narrow parameters: when the server allows only some
// of the requested nodes, CanControl refuses with an error naming them;
// AskControl gives the full answer.
func (c *Client) CanControl(ctx context.Context, from jid.JID, nodes, params []string) ([]string, error) {
	q := CanControl{JID: from.String(), Nodes: nodeRefs(nodes), Params: params, Tokens: tokensFrom(ctx)}
	r, err := c.askControl(ctx, q, from)
	if err != nil {
		return nil, err
	}
	if !r.Result {
		return []string{}, nil
	}
	if missing := missingNodes(q.Nodes, r.Nodes); len(missing) > 0 {
		return nil, fmt.Errorf("provisioning: %s may control only nodes %s, not %v: %w", from.Bare(), nodeIDs(r.Nodes), missing, ErrPartialNodes)
	}
	if len(r.Params) == 0 {
		return slices.Clone(params), nil
	}
	allowed := []string{}
	for _, p := range params {
		if slices.Contains(r.Params, p) {
			allowed = append(allowed, p)
		}
	}
	return allowed, nil
}

// controlKey is the cache key of a canControl question whose JID is bare.
func controlKey(q CanControl) string {
	return keyOf("canControl", q.JID, q.Tokens.Service, q.Tokens.Device, q.Tokens.User, nodesKey(q.Nodes), namesKey(q.Params))
}
