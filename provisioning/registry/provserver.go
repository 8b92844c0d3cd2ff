package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/provisioning"
)

// question kinds, as the elements are named.
const (
	kindFriend  = "isFriend"
	kindRead    = "canRead"
	kindControl = "canControl"
)

// verdict is the decision on one question about one thing.
type verdict struct {
	ok    bool
	names []string // fields or parameters allowed; nil: all
	token string   // the token whose rule decided; "": none
}

// answer answers a device's XEP-0324 question from its owner's rules,
// taking the requester to hold tokens, and returns the tokens whose rules
// decided. Only a thing registered at the sender's bare JID is asked
// about; the requester's resource is ignored (§3.2.1).
func (s *Server) answer(ctx context.Context, from jid.JID, v any, tokens []string) (*xmpp.Element, []string, error) {
	device := from.Bare().String()
	switch q := v.(type) {
	case provisioning.IsFriend:
		who, err := bareOf(q.JID)
		if err != nil {
			return nil, nil, err
		}
		d, err := s.decide(ctx, kindFriend, Key{JID: device}, who, nil, nil)
		if err != nil {
			return nil, nil, err
		}
		return provisioning.IsFriendResponse{JID: who, Result: d.ok}.Element(), nil, nil
	case provisioning.CanRead:
		who, err := bareOf(q.JID)
		if err != nil {
			return nil, nil, err
		}
		ok, nodes, names, used, err := s.decideNodes(ctx, kindRead, device, who, tokens, q.Nodes, q.Fields)
		if err != nil {
			return nil, nil, err
		}
		return provisioning.CanReadResponse{JID: who, Result: ok, Types: q.Types, Nodes: nodes, Fields: names}.Element(), used, nil
	case provisioning.CanControl:
		who, err := bareOf(q.JID)
		if err != nil {
			return nil, nil, err
		}
		ok, nodes, names, used, err := s.decideNodes(ctx, kindControl, device, who, tokens, q.Nodes, q.Params)
		if err != nil {
			return nil, nil, err
		}
		return provisioning.CanControlResponse{JID: who, Result: ok, Nodes: nodes, Params: names}.Element(), used, nil
	}
	return nil, nil, xmpp.ErrFeatureNotImplemented
}

// decideNodes decides a canRead or canControl over nodes (none: the device
// itself). The answer lists the allowed nodes when only some are, and the
// allowed names (the union over the allowed nodes) when restricted. It
// also returns the tokens whose rules decided.
func (s *Server) decideNodes(ctx context.Context, kind, device, who string, tokens []string, nodes []provisioning.NodeRef, names []string) (bool, []provisioning.NodeRef, []string, []string, error) {
	if len(nodes) == 0 {
		d, err := s.decide(ctx, kind, Key{JID: device}, who, tokens, names)
		var used []string
		if d.token != "" {
			used = []string{d.token}
		}
		return d.ok, nil, d.names, used, err
	}
	var allowed []provisioning.NodeRef
	var union, used []string
	unrestricted := false
	for _, n := range nodes {
		d, err := s.decide(ctx, kind, Key{JID: device, NodeID: n.NodeID, SourceID: n.SourceID, CacheType: n.CacheType}, who, tokens, names)
		if err != nil {
			return false, nil, nil, nil, err
		}
		if d.token != "" && !slices.Contains(used, d.token) {
			used = append(used, d.token)
		}
		if !d.ok {
			continue
		}
		allowed = append(allowed, n)
		if d.names == nil {
			unrestricted = true
		}
		for _, x := range d.names {
			if !slices.Contains(union, x) {
				union = append(union, x)
			}
		}
	}
	if len(allowed) == 0 {
		return false, nil, nil, used, nil
	}
	if len(allowed) == len(nodes) {
		allowed = nil
	}
	if unrestricted {
		union = nil
	}
	return true, allowed, union, used, nil
}

// decide answers one question about thing k (a node falls back to its
// device's record when it has none of its own). The owner, the thing
// itself and the registry are always allowed; otherwise the requester's
// rule (its JID's, else one of the tokens it presented, else its
// domain's) decides, and without one the question is refused and sent to
// the owner.
func (s *Server) decide(ctx context.Context, kind string, k Key, who string, tokens, names []string) (verdict, error) {
	t, err := s.store.Thing(ctx, k)
	if errors.Is(err, ErrNotFound) && k.NodeID != "" {
		// The node without its source or cache type (devices may leave
		// them out), else the concentrator itself.
		found := false
		if err := s.store.Things(ctx, JIDPrefix(k.JID), func(x Thing) bool {
			if x.NodeID == k.NodeID && (k.SourceID == "" || x.SourceID == k.SourceID) && (k.CacheType == "" || x.CacheType == k.CacheType) {
				t, found = x, true
			}
			return !found
		}); err != nil {
			return verdict{}, err
		}
		if found {
			err = nil
		} else {
			t, err = s.store.Thing(ctx, Key{JID: k.JID})
		}
	}
	if errors.Is(err, ErrNotFound) {
		// A concentrator registered only nodes: the owner of any of them
		// is its friend. Anything else is not ours to govern: refuse.
		ok := false
		if kind == kindFriend && k.NodeID == "" {
			if err := s.store.Things(ctx, JIDPrefix(k.JID), func(t Thing) bool {
				ok = t.Owner == who
				return !ok
			}); err != nil {
				return verdict{}, err
			}
		}
		return verdict{ok: ok}, nil
	}
	if err != nil {
		return verdict{}, err
	}
	if !t.Claimed() {
		return verdict{}, nil
	}
	if who == t.Owner || who == t.JID || who == s.sess.LocalJID().Bare().String() {
		return verdict{ok: true}, nil
	}
	rules, err := s.store.Rules(ctx, t.Key)
	if err != nil {
		return verdict{}, err
	}
	r, found := ruleFor(rules, who, tokens)
	var dec Decision
	var allowed []string
	if found {
		switch kind {
		case kindFriend:
			dec = r.Friend
		case kindRead:
			dec, allowed = r.Read, r.Fields
		case kindControl:
			dec, allowed = r.Control, r.Params
		}
	}
	var token string
	if found {
		token, _ = strings.CutPrefix(r.Requester, TokenPrefix)
		if token == r.Requester {
			token = ""
		}
	}
	switch dec {
	case Allow:
		v := restrict(names, allowed)
		v.token = token
		return v, nil
	case Deny:
		return verdict{token: token}, nil
	}
	s.askOwner(ctx, t, kind, who, names)
	return verdict{token: token}, nil
}

// TokenPrefix starts the requester of a rule about a XEP-0324 token
// (service, device or user token) rather than a JID.
const TokenPrefix = "token:"

// ruleFor returns the rule for the bare JID who: its own, else that of the
// first of its tokens that has one, else its domain's. The caller passes
// only tokens the requester was shown to hold (or that are being
// checked): a token rule is never honoured on a token's mere mention.
func ruleFor(rules []Rule, who string, tokens []string) (Rule, bool) {
	domain := who
	if i := strings.IndexByte(who, '@'); i >= 0 {
		domain = who[i+1:]
	}
	find := func(req string) (Rule, bool) {
		for _, r := range rules {
			if r.Requester == req {
				return r, true
			}
		}
		return Rule{}, false
	}
	if r, ok := find(who); ok {
		return r, true
	}
	for _, tok := range tokens {
		if r, ok := find(TokenPrefix + tok); ok {
			return r, true
		}
	}
	return find(domain)
}

// restrict applies a rule's allowed names to the requested ones: no
// allowed list allows everything; otherwise the intersection (or the
// allowed list when nothing in particular was asked for), and nothing
// left is a refusal.
func restrict(requested, allowed []string) verdict {
	if len(allowed) == 0 {
		return verdict{ok: true}
	}
	if len(requested) == 0 {
		return verdict{ok: true, names: slices.Clone(allowed)}
	}
	var out []string
	for _, n := range requested {
		if slices.Contains(allowed, n) {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return verdict{}
	}
	return verdict{ok: true, names: out}
}

// Bounds of the questions sent to owners: how many are remembered, and
// how many field or parameter names one lists.
const (
	maxAsked      = 10000
	maxAskedNames = 32
)

// askOwner sends the owner of t a question no rule answered, at most once
// per Options.AskEvery for the same thing, requester and kind. The owner
// answers by setting a rule.
func (s *Server) askOwner(ctx context.Context, t Thing, kind, who string, names []string) {
	if t.Owner == t.JID {
		return // self-owned: nobody to ask
	}
	if len(names) > maxAskedNames {
		names = names[:maxAskedNames]
	}
	key := t.Key.String() + sep + kind + sep + who
	now := s.opts.Now()
	s.amu.Lock()
	if last, ok := s.asked[key]; ok && now.Sub(last) < s.opts.AskEvery {
		s.amu.Unlock()
		return
	}
	if len(s.asked) >= maxAsked {
		s.asked = map[string]time.Time{}
	}
	s.asked[key] = now
	s.amu.Unlock()

	q := xmpp.NewElement(NSRules, "question", "kind", kind, "jid", t.JID, "requester", who)
	nodeOf(t.Key).set(q)
	child := "field"
	if kind == kindControl {
		child = "parameter"
	}
	for _, n := range names {
		q.Add(xmpp.NewElement(NSRules, child, "name", n))
	}
	what := map[string]string{kindFriend: "befriend", kindRead: "read", kindControl: "control"}[kind]
	body := fmt.Sprintf("%s asks to %s your thing %s", who, what, t.JID)
	if t.NodeID != "" {
		body += " node " + t.NodeID
	}
	if len(names) > 0 {
		body += " (" + strings.Join(names, ", ") + ")"
	}
	body += fmt.Sprintf(". Answer with: xiot rules allow|deny %s %s %s", t.JID, who, what)
	msg := xmpp.NewElement("", "message", "to", t.Owner, "from", s.sess.LocalJID().String(), "type", "normal").
		Add(xmpp.NewElement("", "body").AddText(body), q)
	if err := s.sess.Send(ctx, msg); err != nil {
		s.log.Info("registry: question not sent to the owner", "owner", t.Owner, "err", err)
	}
}

// rules lists the rules of an owner's thing.
func (s *Server) rules(ctx context.Context, owner string, q RulesQuery) (*xmpp.Element, error) {
	t, err := s.owned(ctx, owner, q.Thing.JID, nodeOf(q.Thing))
	if err != nil {
		return nil, err
	}
	rules, err := s.store.Rules(ctx, t.Key)
	if err != nil {
		return nil, err
	}
	out := xmpp.NewElement(NSRules, "rules", "jid", t.JID)
	nodeOf(t.Key).set(out)
	for _, r := range rules {
		out.Add(RuleElement(r))
	}
	return out, nil
}

// setRule sets (or, with del, deletes) an owner's rule, then tells the
// thing: clearCache, and friend or unfriend when the friendship decision
// changed.
func (s *Server) setRule(ctx context.Context, owner string, r Rule, del bool) error {
	unlock, err := s.lock(ctx)
	if err != nil {
		return err
	}
	t, err := s.owned(ctx, owner, r.Thing.JID, nodeOf(r.Thing))
	if err != nil {
		unlock()
		return err
	}
	r.Thing = t.Key
	if r.Requester, err = requesterOf(r.Requester); err != nil {
		unlock()
		return err
	}
	old, _ := ruleFor(mustRules(ctx, s.store, t.Key), r.Requester, nil)
	if old.Requester != r.Requester {
		old = Rule{}
	}
	if del {
		err = s.store.DeleteRule(ctx, t.Key, r.Requester)
	} else {
		r.Updated = s.now()
		err = s.store.PutRule(ctx, r)
	}
	unlock()
	if err != nil {
		return err
	}
	s.amu.Lock()
	for _, kind := range []string{kindFriend, kindRead, kindControl} {
		delete(s.asked, t.Key.String()+sep+kind+sep+r.Requester)
	}
	s.amu.Unlock()
	s.log.Info("rule changed", "thing", t.JID, "node", t.NodeID, "requester", loggable(r.Requester), "deleted", del,
		"friend", r.Friend, "read", r.Read, "control", r.Control)

	s.clearCacheLater(t.JID)
	if strings.Contains(r.Requester, "@") && !strings.HasPrefix(r.Requester, TokenPrefix) && t.NodeID == "" && old.Friend != r.Friend {
		switch {
		case r.Friend == Allow:
			s.recommend(ctx, t, provisioning.Friend{JID: r.Requester}.Element())
		case old.Friend == Allow:
			s.recommend(ctx, t, provisioning.Unfriend{JID: r.Requester}.Element())
		}
	}
	return nil
}

// mustRules returns the rules of k, none on error.
func mustRules(ctx context.Context, st Store, k Key) []Rule {
	rules, _ := st.Rules(ctx, k)
	return rules
}

// requesterOf normalises a rule's requester: a bare JID, a domain, or
// "token:" and a token.
func requesterOf(s string) (string, error) {
	if tok, ok := strings.CutPrefix(s, TokenPrefix); ok {
		if tok == "" || len(tok) > 256 || strings.ContainsFunc(tok, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return "", xmpp.NewStanzaError("modify", "bad-request", "a token requester is token: and the token, without spaces, at most 256 bytes")
		}
		return s, nil
	}
	j, err := jid.Parse(s)
	if err != nil || j.Resourcepart() != "" {
		return "", xmpp.NewStanzaError("modify", "jid-malformed", fmt.Sprintf("requester %.60q is not a bare JID or a domain", s))
	}
	return j.String(), nil
}

// recommend sends the thing a friend or unfriend message (§3.2.3, §3.2.4).
func (s *Server) recommend(ctx context.Context, t Thing, payload *xmpp.Element) {
	to := t.Address
	if to == "" {
		to = t.JID
	}
	msg := xmpp.NewElement("", "message", "to", to, "from", s.sess.LocalJID().String()).Add(payload)
	if err := s.sess.Send(ctx, msg); err != nil {
		s.log.Info("registry: recommendation not sent", "jid", t.JID, "err", err)
	}
}

// clearCacheLater sends clearCache to the thing at the bare JID device in
// the background. Every record of the thing is first marked as owing a
// clearCache, and unmarked once the thing acknowledged: a thing that is
// offline (or a registry that stops meanwhile) gets it when the thing is
// next seen (§5.2).
func (s *Server) clearCacheLater(device string) {
	mark := func(ctx context.Context, pending bool) {
		unlock, err := s.lock(ctx)
		if err != nil {
			s.log.Warn("registry: clearCache not recorded", "jid", device, "err", err)
			return
		}
		defer unlock()
		var ts []Thing
		_ = s.store.Things(ctx, JIDPrefix(device), func(t Thing) bool {
			if t.ClearCache != pending {
				ts = append(ts, t)
			}
			return true
		})
		for _, t := range ts {
			t.ClearCache = pending
			if err := s.store.PutThing(ctx, t); err != nil {
				s.log.Warn("registry: saving clearCache state", "jid", device, "err", err)
			}
		}
	}
	mark(context.WithoutCancel(s.ctx), true)
	s.amu.Lock()
	if _, running := s.clearing[device]; running {
		s.clearing[device] = true // send again when the one in flight is done
		s.amu.Unlock()
		return
	}
	s.clearing[device] = false
	s.amu.Unlock()
	// again reports (and resets) whether another clearCache was asked for
	// meanwhile; when not, the thing is no longer being cleared.
	again := func() bool {
		s.amu.Lock()
		defer s.amu.Unlock()
		if s.clearing[device] {
			s.clearing[device] = false
			return true
		}
		delete(s.clearing, device)
		return false
	}
	started := s.spawn(func(ctx context.Context) {
		for {
			t, err := s.store.Thing(ctx, Key{JID: device})
			if err != nil {
				// A concentrator registered only nodes: any record has the address.
				_ = s.store.Things(ctx, JIDPrefix(device), func(x Thing) bool { t, err = x, nil; return false })
			}
			if err != nil {
				again()
				return
			}
			if err := s.notify(ctx, t, provisioning.ClearCache{}.Element()); err != nil {
				s.log.Info("registry: clearCache not delivered; will resend when the thing is seen", "jid", device, "err", err)
				again()
				return
			}
			s.log.Debug("clearCache delivered", "jid", device)
			s.amu.Lock()
			more := s.clearing[device]
			s.amu.Unlock()
			if !more {
				mark(context.WithoutCancel(ctx), false)
			}
			if !again() {
				return
			}
		}
	})
	if !started {
		again()
	}
}
