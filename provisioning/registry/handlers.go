package registry

import (
	"context"
	"errors"
	"fmt"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/internal/xmpp"
)

// errNotFound is the reply to a request about a thing the sender may not
// see: the registry does not tell "absent" from "someone else's".
var errNotFound = xmpp.ErrItemNotFound

// lookup returns the thing with key k, errNotFound when absent.
func (s *Server) lookup(ctx context.Context, k Key) (Thing, error) {
	t, err := s.store.Thing(ctx, k)
	if errors.Is(err, ErrNotFound) {
		return Thing{}, errNotFound
	}
	return t, err
}

// owned returns the thing at the JID j (any resource) and node owned by
// owner, errNotFound otherwise.
func (s *Server) owned(ctx context.Context, owner, j string, n NodeInfo) (Thing, error) {
	bare, err := bareOf(j)
	if err != nil {
		return Thing{}, err
	}
	t, err := s.lookup(ctx, n.Key(bare))
	if err != nil {
		return Thing{}, err
	}
	if t.Owner != owner {
		return Thing{}, errNotFound
	}
	return t, nil
}

func claimedElement(owner string, n NodeInfo, public bool) *xmpp.Element {
	e := xmpp.NewElement(NS, "claimed", "jid", owner)
	n.set(e)
	if !public {
		e.Set("public", "false")
	}
	return e
}

// register records a thing's registration (§3.5–3.7). A claimed thing's
// record is left alone and the thing is told its owner.
func (s *Server) register(ctx context.Context, from jid.JID, r Register) (*xmpp.Element, error) {
	bare := from.Bare().String()
	k := r.Node.Key(bare)
	unlock, err := s.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	old, err := s.store.Thing(ctx, k)
	switch {
	case err == nil && old.Claimed():
		e := xmpp.NewElement(NS, "claimed", "jid", old.Owner)
		r.Node.set(e)
		return e, nil
	case errors.Is(err, ErrNotFound):
		n := 0
		if err := s.store.Things(ctx, JIDPrefix(bare), func(Thing) bool { n++; return n < s.opts.MaxThingsPerJID }); err != nil {
			return nil, err
		}
		if n >= s.opts.MaxThingsPerJID {
			return nil, xmpp.NewStanzaError("wait", "resource-constraint", fmt.Sprintf("at most %d things per JID", s.opts.MaxThingsPerJID))
		}
	case err != nil:
		return nil, err
	}
	now := s.now()
	t := Thing{Key: k, Tags: r.Tags, SelfOwned: r.SelfOwned, Address: from.String(), Registered: now, Updated: now}
	if err == nil {
		t.Registered = old.Registered
	}
	if r.SelfOwned {
		t.Owner, t.Public = bare, true
	}
	if err := s.store.PutThing(ctx, t); err != nil {
		return nil, err
	}
	s.log.Info("thing registered", "jid", bare, "node", r.Node.NodeID, "tags", len(r.Tags), "selfOwned", r.SelfOwned)
	return nil, nil
}

// sameTags reports whether a and b (sorted by name) are the same tags.
func sameTags(a, b []Tag) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || a[i].Numeric != b[i].Numeric || a[i].Value != b[i].Value || a[i].Num != b[i].Num {
			return false
		}
	}
	return true
}

// mine claims the unclaimed thing with exactly the tags of m (§3.8). The
// failure does not say why; claims are rate-limited per claimer.
func (s *Server) mine(ctx context.Context, from jid.JID, m Mine) (*xmpp.Element, error) {
	owner := from.Bare().String()
	if !s.claims.allow(owner) {
		s.log.Warn("claims rate-limited", "from", owner)
		return nil, xmpp.NewStanzaError("wait", "resource-constraint", "too many claims; try again later")
	}
	unlock, err := s.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	var found *Thing
	err = s.withTags(ctx, m.Tags, func(t Thing) bool {
		if !sameTags(t.Tags, m.Tags) || (m.Node != NodeInfo{} && nodeOf(t.Key) != m.Node) {
			return true
		}
		if !t.Claimed() || t.Owner == owner {
			found = &t
			return t.Claimed() // keep looking for an unclaimed one
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	if found == nil {
		s.log.Info("claim refused", "from", owner)
		return nil, errNotFound
	}
	t := *found
	reply := claimedElement(t.JID, nodeOf(t.Key), true)
	if t.Claimed() { // already this claimer's
		return reply, nil
	}
	t.Owner, t.Public, t.Removed, t.Updated = owner, m.Public, false, s.now()
	if err := s.store.PutThing(ctx, t); err != nil {
		return nil, err
	}
	s.log.Info("thing claimed", "jid", t.JID, "node", t.NodeID, "owner", owner, "public", m.Public)
	s.notifyLater(t, claimedElement(owner, nodeOf(t.Key), m.Public))
	return reply, nil
}

// update merges tags into a thing's record, from the thing (§3.11) or its
// owner (§3.12). An empty string value removes the tag.
func (s *Server) update(ctx context.Context, sender string, u Update) (*xmpp.Element, error) {
	unlock, err := s.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	var t Thing
	self := u.JID == ""
	if !self {
		if b, err := bareOf(u.JID); err == nil && b == sender {
			self = true
		}
	}
	if self {
		t, err = s.lookup(ctx, u.Node.Key(sender))
		if err != nil {
			return nil, err
		}
		if !t.Claimed() {
			e := xmpp.NewElement(NS, "disowned")
			u.Node.set(e)
			return e, nil
		}
	} else if t, err = s.owned(ctx, sender, u.JID, u.Node); err != nil {
		return nil, err
	}
	if t.Removed {
		return nil, errNotFound
	}
	for _, g := range u.Tags {
		i := -1
		for j := range t.Tags {
			if t.Tags[j].Name == g.Name {
				i = j
			}
		}
		switch {
		case !g.Numeric && g.Value == "":
			if i >= 0 {
				t.Tags = append(t.Tags[:i], t.Tags[i+1:]...)
			}
		case i >= 0:
			t.Tags[i] = g
		default:
			t.Tags = append(t.Tags, g)
		}
	}
	if len(t.Tags) > MaxTags {
		return nil, xmpp.NewStanzaError("modify", "not-acceptable", fmt.Sprintf("at most %d tags per thing", MaxTags))
	}
	sortTags(t.Tags)
	t.Updated = s.now()
	return nil, s.store.PutThing(ctx, t)
}

// remove takes an owner's thing out of searches and tells the thing
// (§3.9). It stays claimed.
func (s *Server) remove(ctx context.Context, owner string, r Remove) error {
	unlock, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	t, err := s.owned(ctx, owner, r.JID, r.Node)
	if err != nil || t.Removed {
		return errNotFound
	}
	t.Removed, t.Public, t.Updated = true, false, s.now()
	if err := s.store.PutThing(ctx, t); err != nil {
		return err
	}
	s.log.Info("thing removed", "jid", t.JID, "node", t.NodeID, "owner", owner)
	e := xmpp.NewElement(NS, "removed")
	nodeOf(t.Key).set(e)
	s.notifyLater(t, e)
	return nil
}

// disown returns a thing to the unclaimed state once the thing
// acknowledged (§3.15); the reply to iq is sent when that is done.
func (s *Server) disown(ctx context.Context, iq *xmpp.Element, owner string, d Disown) error {
	t, err := s.owned(ctx, owner, d.JID, d.Node)
	if err != nil {
		return err
	}
	e := xmpp.NewElement(NS, "disowned")
	nodeOf(t.Key).set(e)
	ok := s.spawn(func(nctx context.Context) {
		if err := s.notify(nctx, t, e); err != nil {
			s.log.Info("disown refused: thing did not acknowledge", "jid", t.JID, "err", err)
			_ = s.sess.Send(nctx, xmpp.ErrorReply(iq, xmpp.NewStanzaError("cancel", "not-allowed", "the thing is not online to acknowledge")))
			return
		}
		if err := s.finishDisown(nctx, owner, t.Key); err != nil {
			_ = s.sess.Send(nctx, xmpp.ErrorReply(iq, err))
			return
		}
		_ = s.sess.Send(nctx, xmpp.ResultIQ(iq, nil))
	})
	if !ok {
		return xmpp.NewStanzaError("wait", "resource-constraint", "busy; try again later")
	}
	return nil
}

func (s *Server) finishDisown(ctx context.Context, owner string, k Key) error {
	unlock, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	t, err := s.lookup(ctx, k)
	if err != nil {
		return err
	}
	if t.Owner != owner {
		return errNotFound
	}
	t.Owner, t.Public, t.Removed, t.SelfOwned, t.ClearCache = "", false, false, false, false
	t.Tags = []Tag{{Name: KeyTag, Value: randomKey()}}
	t.Updated = s.now()
	if err := s.store.PutThing(ctx, t); err != nil {
		return err
	}
	if err := s.store.DeleteRules(ctx, k); err != nil {
		return err
	}
	s.log.Info("thing disowned", "jid", t.JID, "node", t.NodeID, "owner", owner)
	return nil
}

// search returns the public claimed things matching every operator
// (§3.13), never KEY.
func (s *Server) search(ctx context.Context, q Search) (*xmpp.Element, error) {
	limit := q.MaxCount
	if limit <= 0 {
		limit = 20
	}
	limit = min(limit, s.opts.MaxResults)
	things, more, err := s.searchThings(ctx, q.Ops, q.Offset, limit)
	if err != nil {
		return nil, err
	}
	found := xmpp.NewElement(NS, "found")
	for _, t := range things {
		found.Add(ThingElement(NS, t))
	}
	found.Set("more", formatBool(more))
	return found, nil
}

// things lists the owner's things, private and removed ones included.
func (s *Server) things(ctx context.Context, owner string) (*xmpp.Element, error) {
	out := xmpp.NewElement(NSRules, "things")
	n := 0
	err := s.ownedBy(ctx, owner, func(t Thing) bool {
		out.Add(ThingElement(NSRules, t))
		n++
		return n < 10000
	})
	return out, err
}
