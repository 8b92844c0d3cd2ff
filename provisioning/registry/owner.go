package registry

import (
	"context"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"

	"github.com/xiot/xiot/internal/xmpp"
)

// Owner is the owner's side of the registry, for command-line tools:
// claim, list, search, govern and give up things. Registry is the
// registry's JID (a component domain).
type Owner struct {
	Session  *xmpp.Session
	Registry string
}

func xmppTag(kind, name, value string) *xmpp.Element {
	e := xmpp.NewElement(NS, kind, "name", name)
	e.Attr = append(e.Attr, xml.Attr{Name: xml.Name{Local: "value"}, Value: value})
	return e
}

func (o Owner) ask(ctx context.Context, typ string, payload *xmpp.Element) (*xmpp.Element, error) {
	res, err := o.Session.SendIQ(ctx, xmpp.NewElement("", "iq", "type", typ, "to", o.Registry).Add(payload))
	if err != nil {
		return nil, fmt.Errorf("registry %s: %s: %w", o.Registry, payload.Name.Local, err)
	}
	return res.FirstChild(), nil
}

func withNode(e *xmpp.Element, k Key) *xmpp.Element {
	e.Set("jid", k.JID)
	return nodeOf(k).set(e)
}

// Claim claims the thing registered with exactly tags and returns its
// key. A private thing is not found by searches.
func (o Owner) Claim(ctx context.Context, tags []Tag, public bool) (Key, error) {
	e := xmpp.NewElement(NS, "mine")
	if !public {
		e.Set("public", "false")
	}
	tagElements(e, tags, true)
	res, err := o.ask(ctx, "set", e)
	if err != nil {
		return Key{}, err
	}
	if res == nil || res.Name.Local != "claimed" || res.Get("jid") == "" {
		return Key{}, fmt.Errorf("registry %s: claim answered without the thing's JID", o.Registry)
	}
	return parseNodeInfo(res).Key(res.Get("jid")), nil
}

// Things lists the owner's things.
func (o Owner) Things(ctx context.Context) ([]Thing, error) {
	res, err := o.ask(ctx, "get", xmpp.NewElement(NSRules, "things"))
	if err != nil {
		return nil, err
	}
	return parseThings(res)
}

func parseThings(res *xmpp.Element) ([]Thing, error) {
	if res == nil {
		return nil, nil
	}
	var out []Thing
	for _, c := range res.Children() {
		t, err := ParseThing(c)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// OperatorElement returns the search element of op.
func OperatorElement(op Operator) *xmpp.Element {
	e := xmpp.NewElement(NS, op.Op, "name", op.Name)
	num := func(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
	set := func(name, v string) { e.Attr = append(e.Attr, xml.Attr{Name: xml.Name{Local: name}, Value: v}) }
	switch {
	case op.Op == "strRange" || op.Op == "strNRange":
		set("min", op.Min)
		set("max", op.Max)
	case op.Op == "numRange" || op.Op == "numNRange":
		set("min", num(op.MinNum))
		set("max", num(op.MaxNum))
	case strings.HasPrefix(op.Op, "num"):
		set("value", num(op.Num))
	default:
		set("value", op.Value)
	}
	if strings.HasSuffix(op.Op, "Range") {
		e.Set("minIncluded", formatBool(op.MinIncluded)).Set("maxIncluded", formatBool(op.MaxIncluded))
	}
	if op.Op == "strMask" {
		e.Set("wildcard", op.Wildcard)
	}
	return e
}

// Search returns public claimed things matching every operator, from
// offset, at most maxCount (0: the registry's default), and whether more
// are available.
func (o Owner) Search(ctx context.Context, ops []Operator, offset, maxCount int) ([]Thing, bool, error) {
	e := xmpp.NewElement(NS, "search")
	if offset > 0 {
		e.Set("offset", strconv.Itoa(offset))
	}
	if maxCount > 0 {
		e.Set("maxCount", strconv.Itoa(maxCount))
	}
	for _, op := range ops {
		e.Add(OperatorElement(op))
	}
	res, err := o.ask(ctx, "get", e)
	if err != nil {
		return nil, false, err
	}
	things, err := parseThings(res)
	if err != nil {
		return nil, false, err
	}
	more, _ := parseBool(res, "more", false)
	return things, more, nil
}

// Rules lists the rules of the owner's thing k.
func (o Owner) Rules(ctx context.Context, k Key) ([]Rule, error) {
	res, err := o.ask(ctx, "get", withNode(xmpp.NewElement(NSRules, "rules"), k))
	if err != nil {
		return nil, err
	}
	var out []Rule
	for _, c := range res.Children() {
		r, err := ParseRule(c)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// SetRule sets the rule of r.Requester for the owner's thing r.Thing.
func (o Owner) SetRule(ctx context.Context, r Rule) error {
	_, err := o.ask(ctx, "set", RuleElement(r))
	return err
}

// DeleteRule deletes the rule of requester for the owner's thing k.
func (o Owner) DeleteRule(ctx context.Context, k Key, requester string) error {
	_, err := o.ask(ctx, "set", withNode(xmpp.NewElement(NSRules, "unrule", "requester", requester), k))
	return err
}

// Disown gives the thing k up; the thing must be online to acknowledge.
func (o Owner) Disown(ctx context.Context, k Key) error {
	_, err := o.ask(ctx, "set", withNode(xmpp.NewElement(NS, "disown"), k))
	return err
}

// Remove takes the thing k out of searches; it stays the owner's.
func (o Owner) Remove(ctx context.Context, k Key) error {
	_, err := o.ask(ctx, "set", withNode(xmpp.NewElement(NS, "remove"), k))
	return err
}
