package thing

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/provisioning/registry"
)

// Register brings the registry up to date with the thing, and reports
// what came of it:
//
//   - removed by its owner: nothing is sent (Skipped); XEP-0347 §3.11
//     says further updates are not desired;
//   - claimed, with the tags the registry last took: nothing is sent
//     (Skipped);
//   - claimed, with other tags: an update (§3.11) with the tags that
//     changed, and an empty value for each tag that went away (Updated).
//     A registry that answers "disowned" gets a new registration; one
//     that answers item-not-found too, and if it then says the thing is
//     claimed, the owner removed it (Removed), otherwise it had lost the
//     thing, which is now registered anew, unclaimed;
//   - not claimed: a registration with the current tags (Registered,
//     SelfOwned, or Claimed when the registry says an owner claimed the
//     thing meanwhile — then changed tags follow as an update).
//
// The tags the registry took are kept in the state file. The callbacks of
// Options run before it returns.
func (r *Registration) Register(ctx context.Context) (Status, error) {
	if r.sess == nil {
		return Skipped, errors.New("registry: no XMPP session to register on")
	}
	ctx = r.from(ctx)
	r.mu.Lock()
	removed, claimed, changed := r.state.Removed, r.state.Owner != "", !sameTags(r.state.Tags, r.opts.Tags)
	r.mu.Unlock()
	switch {
	case removed:
		r.log.Debug("registry: removed by the owner; nothing sent")
		return Skipped, nil
	case claimed && !changed:
		r.log.Debug("registry: claimed, meta tags unchanged; nothing sent")
		return Skipped, nil
	case claimed:
		return r.update(ctx)
	}
	return r.register(ctx)
}

// register sends a registration and acts on the answer.
func (r *Registration) register(ctx context.Context) (Status, error) {
	owner, tags, claim, err := r.sendRegister(ctx)
	return r.registered(ctx, owner, tags, claim, err)
}

// registered acts on the answer to a registration (see sendRegister).
func (r *Registration) registered(ctx context.Context, owner string, tags []registry.Tag, claim string, err error) (Status, error) {
	switch {
	case err != nil:
		return Skipped, err
	case owner != "":
		if err := r.claimed(ctx, owner); err != nil {
			return Claimed, err
		}
		r.mu.Lock()
		changed := !sameTags(r.state.Tags, tags)
		r.mu.Unlock()
		if !changed {
			return Claimed, nil
		}
		// The registry keeps a claimed thing's record as it was: the
		// new tags go as an update.
		if _, err := r.update(ctx); err != nil {
			return Claimed, err
		}
		return Claimed, nil
	}
	r.mu.Lock()
	former, _ := r.owner()
	r.state.Owner, r.state.Tags = "", tags
	if !r.opts.SelfOwned {
		r.state.Claim = claim
	}
	err = r.save()
	r.mu.Unlock()
	if err != nil {
		r.log.Error("registry: state not saved", "err", err)
	}
	if former.String() != "" {
		// Only a registry that lost the thing takes a registration of a
		// thing that believed itself claimed.
		r.log.Warn("registry: the registry had no record of this claimed thing; registered anew, to be claimed again", "former_owner", former.String())
		if r.opts.OnDisowned != nil {
			r.opts.OnDisowned(ctx, former)
		}
	}
	if r.opts.SelfOwned {
		r.log.Info("registry: registered as a self-owned, public thing", "registry", r.opts.Registry.String())
		return SelfOwned, nil
	}
	if r.opts.OnRegistered != nil {
		r.opts.OnRegistered(ctx, claim)
	}
	return Registered, nil
}

// sendRegister sends the registration and returns the owner the registry
// names when the thing is claimed, with the tags and claim text sent.
func (r *Registration) sendRegister(ctx context.Context) (owner string, tags []registry.Tag, claim string, err error) {
	r.mu.Lock()
	tags = slices.Clone(r.opts.Tags)
	all := r.tags()
	r.mu.Unlock()
	reg := xmpp.NewElement(NS, "register")
	if r.opts.SelfOwned {
		reg.Set("selfOwned", "true")
	}
	addTags(reg, all)
	res, err := r.send(ctx, reg)
	if err != nil {
		return "", nil, "", fmt.Errorf("registry: registering with %s: %w", r.opts.Registry, err)
	}
	if c := res.Child(NS, "claimed"); c != nil {
		if c.Get("jid") == "" {
			return "", nil, "", fmt.Errorf("registry: %s answered claimed without an owner", r.opts.Registry)
		}
		return c.Get("jid"), tags, "", nil
	}
	return "", tags, registry.ClaimURI(all), nil
}

// update sends the tags that differ from those the registry last took.
func (r *Registration) update(ctx context.Context) (Status, error) {
	r.mu.Lock()
	tags := slices.Clone(r.opts.Tags)
	diff := tagDiff(r.state.Tags, tags)
	r.mu.Unlock()
	up := xmpp.NewElement(NS, "update")
	addTags(up, diff)
	res, err := r.send(ctx, up)
	var se *xmpp.StanzaError
	switch {
	case errors.As(err, &se) && se.Condition == "item-not-found":
		// Removed by the owner, or lost by the registry: a registration
		// tells which.
		r.log.Info("registry: update refused (item-not-found); registering again to find out why")
		owner, tags, claim, err := r.sendRegister(ctx)
		if err == nil && owner != "" {
			r.removed(ctx)
			return Removed, nil
		}
		// Otherwise the registry took the registration: it had lost the
		// thing.
		return r.registered(ctx, owner, tags, claim, err)
	case err != nil:
		return Skipped, fmt.Errorf("registry: updating the meta tags with %s: %w", r.opts.Registry, err)
	case res.Child(NS, "disowned") != nil:
		// §3.11: found but not claimed: disowned while offline.
		r.disowned(ctx)
		return r.register(ctx)
	}
	r.mu.Lock()
	r.state.Tags = tags
	err = r.save()
	r.mu.Unlock()
	if err != nil {
		r.log.Error("registry: state not saved", "err", err)
	}
	r.log.Info("registry: meta tags updated", "registry", r.opts.Registry.String(), "changed", len(diff))
	return Updated, nil
}

// send sends payload to the registry and waits for the answer.
func (r *Registration) send(ctx context.Context, payload *xmpp.Element) (*xmpp.Element, error) {
	tctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	return r.sess.SendIQ(tctx, xmpp.NewElement("", "iq", "type", "set", "to", r.opts.Registry.String()).Add(payload))
}

// removed records that the owner removed the thing from the registry.
func (r *Registration) removed(ctx context.Context) {
	r.mu.Lock()
	former, _ := r.owner()
	r.state.Owner, r.state.Removed = "", true
	err := r.save()
	r.mu.Unlock()
	if err != nil {
		r.log.Error("registry: state not saved", "err", err)
	}
	r.log.Info("registry: removed from the registry by its owner")
	if r.opts.OnRemoved != nil {
		r.opts.OnRemoved(ctx, former)
	}
}

// disowned records that the owner gave the thing up; the caller
// registers again.
func (r *Registration) disowned(ctx context.Context) {
	r.mu.Lock()
	former, _ := r.owner()
	r.state.Owner = ""
	err := r.save()
	r.mu.Unlock()
	if err != nil {
		r.log.Error("registry: state not saved", "err", err)
	}
	r.log.Info("registry: disowned; registering again to be claimed anew")
	if r.opts.OnDisowned != nil {
		r.opts.OnDisowned(ctx, former)
	}
}

// SetTags replaces the meta tags (without KEY) and reports whether they
// differ from the previous ones; the next Register sends them.
func (r *Registration) SetTags(tags []registry.Tag) bool {
	tags = sortedTags(tags)
	r.mu.Lock()
	defer r.mu.Unlock()
	if sameTags(r.opts.Tags, tags) {
		return false
	}
	r.opts.Tags = tags
	return true
}

// Unsent reports whether the current meta tags differ from those the
// registry last took, for a thing its owner did not remove: Register
// then has something to send.
func (r *Registration) Unsent() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.state.Removed && !sameTags(r.state.Tags, r.opts.Tags)
}

// Tags returns the current meta tags, without KEY, sorted by name.
func (r *Registration) Tags() []registry.Tag {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.opts.Tags)
}

// Unregister removes the thing whose state file is stateFile from the
// registry reg (XEP-0347 §3.14), sending from the JID from over s ("" for
// the session's own JID, as the agent; a device JID on the concentrator's
// component session), and deletes the state file, KEY included, once the
// registry acknowledged. A thing that has no state file is not registered:
// the error then wraps os.ErrNotExist and nothing is sent.
func Unregister(ctx context.Context, s *xmpp.Session, reg jid.JID, from, stateFile string) (State, error) {
	st, err := ReadState(stateFile)
	if err != nil {
		return State{}, err
	}
	if s == nil {
		return st, errors.New("registry: no XMPP session to unregister on")
	}
	if from != "" {
		ctx = xmpp.WithFrom(ctx, from)
	}
	iq := xmpp.NewElement("", "iq", "type", "set", "to", reg.String()).Add(xmpp.NewElement(NS, "unregister"))
	if _, err := s.SendIQ(ctx, iq); err != nil {
		return st, fmt.Errorf("registry: unregistering from %s: %w", reg, err)
	}
	if err := os.Remove(stateFile); err != nil {
		return st, fmt.Errorf("registry: unregistered from %s, but the state file stays: %w", reg, err)
	}
	return st, nil
}

// addTags adds str and num tag elements to e.
func addTags(e *xmpp.Element, tags []registry.Tag) {
	for _, t := range tags {
		if t.Numeric {
			e.Add(xmpp.NewElement(NS, "num", "name", t.Name, "value", fmt.Sprint(t.Num)))
		} else {
			// Set by hand: NewElement leaves empty values out, and an
			// empty value is how an update removes a tag.
			str := xmpp.NewElement(NS, "str", "name", t.Name)
			str.Attr = append(str.Attr, xml.Attr{Name: xml.Name{Local: "value"}, Value: t.Value})
			e.Add(str)
		}
	}
}

// tagDiff returns what turns old into cur as an update: the tags of cur
// that are new or changed, and an empty string tag for each name of old
// that cur lacks (§3.11: that removes it). Both are sorted by name.
func tagDiff(old, cur []registry.Tag) []registry.Tag {
	var out []registry.Tag
	for _, t := range cur {
		i := slices.IndexFunc(old, func(o registry.Tag) bool { return o.Name == t.Name })
		if i < 0 || old[i] != t {
			out = append(out, t)
		}
	}
	for _, o := range old {
		if !slices.ContainsFunc(cur, func(t registry.Tag) bool { return t.Name == o.Name }) {
			out = append(out, registry.Tag{Name: o.Name})
		}
	}
	slices.SortFunc(out, func(a, b registry.Tag) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// sortedTags returns a copy of tags with upper-case names (as the
// registry keeps them), sorted by name.
func sortedTags(tags []registry.Tag) []registry.Tag {
	out := slices.Clone(tags)
	for i := range out {
		out[i].Name = strings.ToUpper(out[i].Name)
	}
	slices.SortFunc(out, func(a, b registry.Tag) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// sameTags reports whether two sorted tag lists are equal.
func sameTags(a, b []registry.Tag) bool { return slices.Equal(a, b) }
