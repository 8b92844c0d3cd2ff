package registry

import (
	"encoding/xml"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/xiot/xiot/internal/xmpp"
)

// Namespaces: XEP-0347's, and the registry's own protocol by which owners
// list their things and set rules, and receive the questions no rule
// answers.
const (
	NS      = "urn:xmpp:iot:discovery"
	NSRules = "urn:xiot:registry"
)

// Bounds on requests (XEP-0347 §6.2 for the tag limits; the others guard
// the registry against tag spam and expensive searches, §7.7).
const (
	MaxTagName   = 32  // characters in a tag name
	MaxTagValue  = 128 // characters in a string tag value
	MaxTags      = 64  // tags per thing
	MaxOperators = 32  // operators per search
	MaxWildcard  = 8   // characters in a strMask wildcard
	MaxNames     = 256 // fields or parameters in a rule
	MaxNameLen   = 256 // characters in a field or parameter name
)

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("registry: malformed request")

// NodeInfo names a thing behind a concentrator.
type NodeInfo struct {
	NodeID, SourceID, CacheType string
}

func parseNodeInfo(e *xmpp.Element) NodeInfo {
	return NodeInfo{NodeID: e.Get("nodeId"), SourceID: e.Get("sourceId"), CacheType: e.Get("cacheType")}
}

func (n NodeInfo) set(e *xmpp.Element) *xmpp.Element {
	return e.Set("nodeId", n.NodeID).Set("sourceId", n.SourceID).Set("cacheType", n.CacheType)
}

// Key returns the thing key of the node at the bare JID j.
func (n NodeInfo) Key(j string) Key {
	return Key{JID: j, NodeID: n.NodeID, SourceID: n.SourceID, CacheType: n.CacheType}
}

// nodeOf returns the node part of k.
func nodeOf(k Key) NodeInfo { return NodeInfo{k.NodeID, k.SourceID, k.CacheType} }

// Register is a thing's registration (§3.5, §3.6, §3.7).
type Register struct {
	Node      NodeInfo
	Tags      []Tag
	SelfOwned bool
}

// Mine is an owner's claim (§3.8); Public defaults to true.
type Mine struct {
	Node   NodeInfo
	Tags   []Tag
	Public bool
}

// Update changes tags (§3.11, §3.12): of the sender when JID is empty, of
// the owner's thing JID otherwise. An empty string value removes a tag.
type Update struct {
	JID  string
	Node NodeInfo
	Tags []Tag
}

// Remove takes an owner's thing out of searches (§3.9).
type Remove struct {
	JID  string
	Node NodeInfo
}

// Disown gives up the ownership of a thing (§3.15).
type Disown struct {
	JID  string
	Node NodeInfo
}

// Unregister is a thing leaving the registry (§3.14).
type Unregister struct {
	Node NodeInfo
}

// Search asks for public claimed things matching every operator (§3.13).
type Search struct {
	Offset   int
	MaxCount int // 0: the registry's default
	Ops      []Operator
}

// Operator is one search condition. Str operators compare string tags
// (Value, Min, Max as strings), num operators numeric tags (Num, MinNum,
// MaxNum). Ranges include their endpoints when MinIncluded / MaxIncluded.
type Operator struct {
	Op                       string // element name: strEq, numRange, …
	Name                     string // tag name, upper case
	Value                    string
	Num                      float64
	Min, Max                 string
	MinNum, MaxNum           float64
	MinIncluded, MaxIncluded bool
	Wildcard                 string // strMask
}

// Operator names, as XEP-0347 §3.13 lists them.
var strOps = []string{"strEq", "strNEq", "strGt", "strGtEq", "strLt", "strLtEq", "strRange", "strNRange", "strMask"}
var numOps = []string{"numEq", "numNEq", "numGt", "numGtEq", "numLt", "numLtEq", "numRange", "numNRange"}

// RuleSet is an owner setting the rule of one requester of one thing.
type RuleSet struct{ Rule Rule }

// RuleDelete is an owner deleting the rule of one requester.
type RuleDelete struct {
	Thing     Key
	Requester string
}

// RulesQuery is an owner listing the rules of one thing.
type RulesQuery struct{ Thing Key }

// ThingsQuery is an owner listing the things it owns.
type ThingsQuery struct{}

// ParseRequest decodes a request payload: the XEP-0347 requests a thing
// or an owner sends (register, mine, update, remove, disown, unregister,
// search) and the registry's own rule protocol (rule, unrule, rules,
// things). It never panics and bounds what it accepts.
func ParseRequest(e *xmpp.Element) (any, error) {
	if e == nil {
		return nil, fmt.Errorf("%w: no element", ErrMalformed)
	}
	switch e.Name.Space {
	case NS:
		return parseDiscovery(e)
	case NSRules:
		return parseRules(e)
	}
	return nil, fmt.Errorf("%w: namespace %q", ErrMalformed, e.Name.Space)
}

func parseDiscovery(e *xmpp.Element) (any, error) {
	switch e.Name.Local {
	case "register":
		tags, err := parseTags(e)
		if err != nil {
			return nil, err
		}
		self, err := parseBool(e, "selfOwned", false)
		return Register{Node: parseNodeInfo(e), Tags: tags, SelfOwned: self}, err
	case "mine":
		tags, err := parseTags(e)
		if err != nil {
			return nil, err
		}
		if len(tags) == 0 {
			return nil, fmt.Errorf("%w: mine without tags", ErrMalformed)
		}
		pub, err := parseBool(e, "public", true)
		return Mine{Node: parseNodeInfo(e), Tags: tags, Public: pub}, err
	case "update":
		tags, err := parseTags(e)
		return Update{JID: e.Get("jid"), Node: parseNodeInfo(e), Tags: tags}, err
	case "remove":
		j, err := requiredAttr(e, "jid")
		return Remove{JID: j, Node: parseNodeInfo(e)}, err
	case "disown":
		j, err := requiredAttr(e, "jid")
		return Disown{JID: j, Node: parseNodeInfo(e)}, err
	case "unregister":
		return Unregister{Node: parseNodeInfo(e)}, nil
	case "search":
		return parseSearch(e)
	}
	return nil, fmt.Errorf("%w: unknown element %s", ErrMalformed, e.Name.Local)
}

// parseTags reads the str and num children; other children are ignored.
// Names are upper-cased; a name given twice is an error.
func parseTags(e *xmpp.Element) ([]Tag, error) {
	var tags []Tag
	for _, c := range e.Children() {
		if c.Name.Local != "str" && c.Name.Local != "num" {
			continue
		}
		if len(tags) == MaxTags {
			return nil, fmt.Errorf("%w: more than %d tags", ErrMalformed, MaxTags)
		}
		name, err := tagName(c)
		if err != nil {
			return nil, err
		}
		if !c.Has("value") {
			return nil, fmt.Errorf("%w: tag %s without value", ErrMalformed, name)
		}
		t := Tag{Name: name}
		if c.Name.Local == "num" {
			t.Numeric = true
			if t.Num, err = parseNum(c, "value"); err != nil {
				return nil, err
			}
		} else {
			if t.Value, err = strValue(c, "value"); err != nil {
				return nil, err
			}
		}
		if slices.ContainsFunc(tags, func(g Tag) bool { return g.Name == name }) {
			return nil, fmt.Errorf("%w: tag %s given twice", ErrMalformed, name)
		}
		tags = append(tags, t)
	}
	sortTags(tags)
	return tags, nil
}

func sortTags(tags []Tag) {
	slices.SortFunc(tags, func(a, b Tag) int { return strings.Compare(a.Name, b.Name) })
}

// tagName reads and checks the name attribute (§6.2: at most 32
// characters, no colon, hash sign or white space).
func tagName(e *xmpp.Element) (string, error) {
	name := e.Get("name")
	if name == "" || !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxTagName ||
		strings.ContainsFunc(name, func(r rune) bool { return r == ':' || r == '#' || unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return "", fmt.Errorf("%w: %s: bad tag name %.40q", ErrMalformed, e.Name.Local, name)
	}
	return strings.ToUpper(name), nil
}

func strValue(e *xmpp.Element, attrName string) (string, error) {
	v := e.Get(attrName)
	if !utf8.ValidString(v) || utf8.RuneCountInString(v) > MaxTagValue {
		return "", fmt.Errorf("%w: %s %s longer than %d characters", ErrMalformed, e.Name.Local, attrName, MaxTagValue)
	}
	return v, nil
}

func parseNum(e *xmpp.Element, attrName string) (float64, error) {
	s := strings.TrimSpace(e.Get(attrName))
	switch s { // xs:double spellings strconv does not take
	case "INF":
		s = "+Inf"
	case "-INF":
		s = "-Inf"
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%w: %s %s=%.40q is not a finite number", ErrMalformed, e.Name.Local, attrName, s)
	}
	return f, nil
}

func parseSearch(e *xmpp.Element) (Search, error) {
	var s Search
	var err error
	if s.Offset, err = parseUint(e, "offset"); err != nil {
		return s, err
	}
	if s.MaxCount, err = parseUint(e, "maxCount"); err != nil {
		return s, err
	}
	for _, c := range e.Children() {
		op, err := parseOperator(c)
		if err != nil {
			return s, err
		}
		if len(s.Ops) == MaxOperators {
			return s, fmt.Errorf("%w: more than %d search operators", ErrMalformed, MaxOperators)
		}
		s.Ops = append(s.Ops, op)
	}
	if len(s.Ops) == 0 {
		return s, fmt.Errorf("%w: search without operators", ErrMalformed)
	}
	return s, nil
}

func parseUint(e *xmpp.Element, name string) (int, error) {
	if !e.Has(name) {
		return 0, nil
	}
	n, err := strconv.ParseUint(strings.TrimSpace(e.Get(name)), 10, 31)
	if err != nil {
		return 0, fmt.Errorf("%w: %s %s=%.40q is not a non-negative integer", ErrMalformed, e.Name.Local, name, e.Get(name))
	}
	return int(n), nil
}

func parseOperator(c *xmpp.Element) (Operator, error) {
	op := Operator{Op: c.Name.Local}
	isStr, isNum := slices.Contains(strOps, op.Op), slices.Contains(numOps, op.Op)
	if !isStr && !isNum {
		return op, fmt.Errorf("%w: unknown search operator %.40q", ErrMalformed, op.Op)
	}
	var err error
	if op.Name, err = tagName(c); err != nil {
		return op, err
	}
	if strings.HasSuffix(op.Op, "Range") {
		for _, a := range []string{"min", "max"} {
			if !c.Has(a) {
				return op, fmt.Errorf("%w: %s without %s", ErrMalformed, op.Op, a)
			}
		}
		if op.MinIncluded, err = parseBool(c, "minIncluded", true); err != nil {
			return op, err
		}
		if op.MaxIncluded, err = parseBool(c, "maxIncluded", true); err != nil {
			return op, err
		}
		if isNum {
			if op.MinNum, err = parseNum(c, "min"); err != nil {
				return op, err
			}
			op.MaxNum, err = parseNum(c, "max")
			return op, err
		}
		if op.Min, err = strValue(c, "min"); err != nil {
			return op, err
		}
		op.Max, err = strValue(c, "max")
		return op, err
	}
	if !c.Has("value") {
		return op, fmt.Errorf("%w: %s without value", ErrMalformed, op.Op)
	}
	if isNum {
		op.Num, err = parseNum(c, "value")
		return op, err
	}
	if op.Value, err = strValue(c, "value"); err != nil {
		return op, err
	}
	if op.Op == "strMask" {
		op.Wildcard = c.Get("wildcard")
		if op.Wildcard == "" || !utf8.ValidString(op.Wildcard) || utf8.RuneCountInString(op.Wildcard) > MaxWildcard {
			return op, fmt.Errorf("%w: strMask needs a wildcard of 1 to %d characters", ErrMalformed, MaxWildcard)
		}
	}
	return op, nil
}

// Rule protocol (urn:xiot:registry):
//
//	<rule jid='thing@example.org' nodeId='…' requester='bob@example.org'
//	      friend='allow' read='allow' control='deny'>
//	  <field name='temperature'/> <parameter name='relay'/>
//	</rule>
//	<unrule jid='…' requester='…'/>   <rules jid='…'/>   <things/>
func parseRules(e *xmpp.Element) (any, error) {
	switch e.Name.Local {
	case "things":
		return ThingsQuery{}, nil
	case "rules":
		j, err := requiredAttr(e, "jid")
		return RulesQuery{Thing: parseNodeInfo(e).Key(j)}, err
	case "unrule":
		j, err := requiredAttr(e, "jid")
		if err != nil {
			return nil, err
		}
		r, err := requiredAttr(e, "requester")
		return RuleDelete{Thing: parseNodeInfo(e).Key(j), Requester: r}, err
	case "rule":
		j, err := requiredAttr(e, "jid")
		if err != nil {
			return nil, err
		}
		r := Rule{Thing: parseNodeInfo(e).Key(j)}
		if r.Requester, err = requiredAttr(e, "requester"); err != nil {
			return nil, err
		}
		for _, d := range []struct {
			attr string
			dst  *Decision
		}{{"friend", &r.Friend}, {"read", &r.Read}, {"control", &r.Control}} {
			switch v := Decision(e.Get(d.attr)); v {
			case Unset, Allow, Deny:
				*d.dst = v
			default:
				return nil, fmt.Errorf("%w: rule %s=%.40q, want allow or deny", ErrMalformed, d.attr, v)
			}
		}
		for _, c := range e.Children() {
			var dst *[]string
			switch c.Name.Local {
			case "field":
				dst = &r.Fields
			case "parameter":
				dst = &r.Params
			default:
				continue
			}
			n := c.Get("name")
			if n == "" || len(n) > MaxNameLen || !utf8.ValidString(n) {
				return nil, fmt.Errorf("%w: rule %s with a bad name", ErrMalformed, c.Name.Local)
			}
			if len(*dst) == MaxNames {
				return nil, fmt.Errorf("%w: more than %d %ss in a rule", ErrMalformed, MaxNames, c.Name.Local)
			}
			*dst = append(*dst, n)
		}
		return RuleSet{Rule: r}, nil
	}
	return nil, fmt.Errorf("%w: unknown element %s", ErrMalformed, e.Name.Local)
}

// RuleElement returns the rule element of r, as rules lists it and as
// owners send it.
func RuleElement(r Rule) *xmpp.Element {
	e := xmpp.NewElement(NSRules, "rule", "jid", r.Thing.JID)
	nodeOf(r.Thing).set(e)
	e.Set("requester", r.Requester).Set("friend", string(r.Friend)).Set("read", string(r.Read)).Set("control", string(r.Control))
	for _, f := range r.Fields {
		e.Add(xmpp.NewElement(NSRules, "field", "name", f))
	}
	for _, p := range r.Params {
		e.Add(xmpp.NewElement(NSRules, "parameter", "name", p))
	}
	return e
}

// ParseRule decodes a rule element (as RuleElement writes it).
func ParseRule(e *xmpp.Element) (Rule, error) {
	if e == nil || e.Name.Space != NSRules || e.Name.Local != "rule" {
		return Rule{}, fmt.Errorf("%w: want a rule element", ErrMalformed)
	}
	v, err := parseRules(e)
	if err != nil {
		return Rule{}, err
	}
	return v.(RuleSet).Rule, nil
}

// tagElements appends the tags to e, leaving out KEY unless withKey.
func tagElements(e *xmpp.Element, tags []Tag, withKey bool) {
	for _, t := range tags {
		if t.Name == KeyTag && !withKey {
			continue
		}
		if t.Numeric {
			e.Add(xmpp.NewElement(NS, "num", "name", t.Name, "value", strconv.FormatFloat(t.Num, 'g', -1, 64)))
		} else {
			c := xmpp.NewElement(NS, "str", "name", t.Name)
			c.Attr = append(c.Attr, xml.Attr{Name: xml.Name{Local: "value"}, Value: t.Value})
			e.Add(c)
		}
	}
}

// ThingElement returns the thing element of a search result or of the
// owner's things list; KEY is never included.
func ThingElement(space string, t Thing) *xmpp.Element {
	e := xmpp.NewElement(space, "thing", "owner", t.Owner, "jid", t.JID)
	nodeOf(t.Key).set(e)
	if space == NSRules {
		e.Set("public", strconv.FormatBool(t.Public)).Set("removed", strconv.FormatBool(t.Removed))
	}
	tagElements(e, t.Tags, false)
	return e
}

// ParseThing decodes a thing element of either namespace.
func ParseThing(e *xmpp.Element) (Thing, error) {
	if e == nil || e.Name.Local != "thing" {
		return Thing{}, fmt.Errorf("%w: want a thing element", ErrMalformed)
	}
	j, err := requiredAttr(e, "jid")
	if err != nil {
		return Thing{}, err
	}
	tags, err := parseTags(e)
	if err != nil {
		return Thing{}, err
	}
	pub, _ := parseBool(e, "public", true)
	removed, _ := parseBool(e, "removed", false)
	return Thing{Key: parseNodeInfo(e).Key(j), Owner: e.Get("owner"), Tags: tags, Public: pub, Removed: removed}, nil
}

func requiredAttr(e *xmpp.Element, name string) (string, error) {
	if !e.Has(name) || e.Get(name) == "" {
		return "", fmt.Errorf("%w: %s without %s", ErrMalformed, e.Name.Local, name)
	}
	return e.Get(name), nil
}

// parseBool reads an xs:boolean attribute, def when absent.
func parseBool(e *xmpp.Element, name string, def bool) (bool, error) {
	if !e.Has(name) {
		return def, nil
	}
	switch s := strings.TrimSpace(e.Get(name)); s {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	default:
		return false, fmt.Errorf("%w: %s %s=%.40q is not a boolean", ErrMalformed, e.Name.Local, name, s)
	}
}
