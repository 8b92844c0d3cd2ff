package provisioning

import (
	"context"
	"fmt"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/internal/xmpp"
)

// IsFriend asks the provisioning server whether the device may befriend
// JID, a bare JID (§3.2.1): the question a device asks before accepting a
// presence subscription.
type IsFriend struct {
	JID string
}

// Element returns the isFriend element.
func (q IsFriend) Element() *xmpp.Element { return jidElement("isFriend", q.JID) }

// IsFriendResponse answers an IsFriend. SecondaryTrustAllowed tells the
// device that it may also add friends and trust relationships of its own
// (§3.1.4).
type IsFriendResponse struct {
	JID                   string
	Result                bool
	SecondaryTrustAllowed bool
}

// Element returns the isFriendResponse element.
func (r IsFriendResponse) Element() *xmpp.Element {
	e := jidElement("isFriendResponse", r.JID)
	e.Set("result", formatBool(r.Result))
	if r.SecondaryTrustAllowed {
		e.Set("secondaryTrustAllowed", "true")
	}
	return e
}

func parseIsFriendResponse(e *xmpp.Element) (IsFriendResponse, error) {
	var r IsFriendResponse
	var err error
	if r.JID, err = requiredJID(e); err != nil {
		return r, err
	}
	if r.Result, err = parseResult(e); err != nil {
		return r, err
	}
	r.SecondaryTrustAllowed, err = parseBool(e, "secondaryTrustAllowed")
	return r, err
}

// Friend is the provisioning server's recommendation that the device
// befriend JID (§3.2.4), sent in a message. Peers of the 2013 drafts name
// the element Friend; Parse accepts both, Element writes friend.
type Friend struct {
	JID string
}

// Element returns the friend element.
func (f Friend) Element() *xmpp.Element { return jidElement("friend", f.JID) }

// Unfriend is the provisioning server's order to end the friendship with
// JID (§3.2.3), sent in a message.
type Unfriend struct {
	JID string
}

// Element returns the unfriend element.
func (u Unfriend) Element() *xmpp.Element { return jidElement("unfriend", u.JID) }

// AskFriend returns the provisioning server's answer to isFriend for the
// bare JID of from, from the cache when it holds one.
func (c *Client) AskFriend(ctx context.Context, from jid.JID) (IsFriendResponse, error) {
	bare := from.Bare()
	q := IsFriend{JID: bare.String()}
	v, err := c.ask(ctx, question{kind: "isFriend", who: bare.String(), key: friendKey(q), q: q},
		func(e *xmpp.Element) (any, error) {
			if e == nil || e.Name.Local != "isFriendResponse" {
				return nil, fmt.Errorf("%w: want isFriendResponse", ErrMalformed)
			}
			r, err := parseIsFriendResponse(e)
			if err != nil {
				return nil, err
			}
			if !sameBare(r.JID, bare) {
				return nil, fmt.Errorf("%w: isFriendResponse is about %q, not %s", ErrMalformed, r.JID, bare)
			}
			return r, nil
		})
	if err != nil {
		return IsFriendResponse{}, err
	}
	return v.(IsFriendResponse), nil
}

// IsFriend reports whether the provisioning server accepts a friendship
// (presence subscription) with from. It has the shape of agent.FriendFunc.
// An error means no decision: the caller must not accept.
//
// The provisioning server itself is always a friend: befriending it is how
// a device delegates its trust (§3.1.1).
func (c *Client) IsFriend(ctx context.Context, from jid.JID) (bool, error) {
	if server := c.Server(); server.String() != "" && from.Bare().Equal(server.Bare()) {
		return true, nil
	}
	r, err := c.AskFriend(ctx, from)
	if err != nil {
		return false, err
	}
	return r.Result, nil
}

// sameBare reports whether the JID in s has the bare address want; an
// empty s (a peer that leaves the attribute empty) matches.
func sameBare(s string, want jid.JID) bool {
	if s == "" {
		return true
	}
	j, err := jid.Parse(s)
	return err == nil && j.Bare().Equal(want.Bare())
}

// friendKey is the cache key of an isFriend question whose JID is bare.
func friendKey(q IsFriend) string { return keyOf("isFriend", q.JID) }
