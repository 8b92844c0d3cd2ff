package registry

import (
	"context"
	"errors"
	"strings"
	"time"
)

// ErrNotFound is returned by a Store for a thing or rule it does not hold.
var ErrNotFound = errors.New("registry: not found")

// Key identifies a thing: the bare JID it is reached at and, for a thing
// behind a concentrator (XEP-0326), the node id, data source and cache
// type that make it unique there.
type Key struct {
	JID       string `json:"jid"`
	NodeID    string `json:"node,omitempty"`
	SourceID  string `json:"source,omitempty"`
	CacheType string `json:"cache,omitempty"`
}

// String returns the key as a store key: the fields joined by a unit
// separator, which JIDs and XML attribute values cannot hold unescaped.
func (k Key) String() string {
	return k.JID + sep + k.NodeID + sep + k.SourceID + sep + k.CacheType
}

// sep separates the parts of a store key.
const sep = "\x1f"

// JIDPrefix returns the store key prefix of every thing at the bare JID j.
func JIDPrefix(j string) string { return j + sep }

// Tag is one meta tag of a thing: a string or, when Numeric, a number.
// Names are kept in upper case: XEP-0347 tag names are case insensitive.
type Tag struct {
	Name    string  `json:"n"`
	Value   string  `json:"s,omitempty"`
	Num     float64 `json:"v,omitempty"`
	Numeric bool    `json:"num,omitempty"`
}

// KeyTag is the reserved tag holding the secret shared by a thing and its
// owner: never searchable, never returned (XEP-0347 §6.6).
const KeyTag = "KEY"

// Thing is one registered thing.
type Thing struct {
	Key
	// Tags are the meta tags, KEY included, sorted by name.
	Tags []Tag `json:"tags,omitempty"`
	// Owner is the owner's bare JID; empty while unclaimed. A self-owned
	// thing is its own owner.
	Owner string `json:"owner,omitempty"`
	// Public things (claimed, not removed) are found by searches.
	Public bool `json:"public,omitempty"`
	// SelfOwned things registered with selfOwned='true'.
	SelfOwned bool `json:"self,omitempty"`
	// Removed things were taken out of searches by their owner; they stay
	// claimed (the registry remains their provisioning server).
	Removed bool `json:"removed,omitempty"`
	// Address is the full JID the thing last spoke from: notifications
	// (claimed, removed, disowned, clearCache) go there.
	Address string `json:"addr,omitempty"`
	// ClearCache is set when the thing must be sent clearCache but could
	// not be reached; it is sent when the thing is next seen.
	ClearCache bool `json:"clear,omitempty"`
	// Registered and Updated are when the thing registered and when its
	// record last changed.
	Registered time.Time `json:"registered"`
	Updated    time.Time `json:"updated"`
}

// Claimed reports whether the thing has an owner.
func (t Thing) Claimed() bool { return t.Owner != "" }

// Tag returns the tag named name (any case).
func (t Thing) Tag(name string) (Tag, bool) {
	name = strings.ToUpper(name)
	for _, g := range t.Tags {
		if g.Name == name {
			return g, true
		}
	}
	return Tag{}, false
}

// Decision is a rule's verdict on one kind of question.
type Decision string

// Decisions. Unset leaves the question to the owner.
const (
	Unset Decision = ""
	Allow Decision = "allow"
	Deny  Decision = "deny"
)

// Rule is what an owner decided about one requester of one thing: may it
// befriend the thing, read it (only Fields, when not empty) and control it
// (only Params, when not empty). Requester is a bare JID, a domain (no
// @), which applies to every JID of that domain, or TokenPrefix and a
// XEP-0324 token, which applies to whoever presents it in canRead or
// canControl.
type Rule struct {
	Thing     Key       `json:"thing"`
	Requester string    `json:"requester"`
	Friend    Decision  `json:"friend,omitempty"`
	Read      Decision  `json:"read,omitempty"`
	Fields    []string  `json:"fields,omitempty"`
	Control   Decision  `json:"control,omitempty"`
	Params    []string  `json:"params,omitempty"`
	Updated   time.Time `json:"updated"`
}

// StoreKey returns the rule's key in a store: the thing's key and the
// requester.
func (r Rule) StoreKey() string { return r.Thing.String() + sep + sep + r.Requester }

// Store keeps things and rules. Implementations are safe for concurrent
// use and lose nothing once a method returned without error. The registry
// serialises its read-modify-write sequences itself.
type Store interface {
	// Thing returns the thing with key k, or an error wrapping ErrNotFound.
	Thing(ctx context.Context, k Key) (Thing, error)
	// PutThing creates or replaces a thing.
	PutThing(ctx context.Context, t Thing) error
	// DeleteThing removes a thing and its rules; absent is no error.
	DeleteThing(ctx context.Context, k Key) error
	// Things calls f for every thing whose store key starts with prefix
	// ("" for all), in key order, until f returns false. f must not
	// modify the thing's Tags nor call the store.
	Things(ctx context.Context, prefix string, f func(Thing) bool) error

	// Rules returns the rules of thing k, by requester.
	Rules(ctx context.Context, k Key) ([]Rule, error)
	// PutRule creates or replaces the rule of r.Thing for r.Requester.
	PutRule(ctx context.Context, r Rule) error
	// DeleteRule removes one rule; absent is no error.
	DeleteRule(ctx context.Context, k Key, requester string) error
	// DeleteRules removes every rule of thing k.
	DeleteRules(ctx context.Context, k Key) error

	// Close releases the store.
	Close() error
}
