package provisioning

import (
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/sensors"
)

// NS is the XEP-0324 namespace. It is also the service discovery feature of
// a provisioning server (XEP-0324 §4); devices advertise nothing.
const NS = "urn:xmpp:iot:provisioning"

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("provisioning: malformed element")

// Tokens are the XEP-0324 tokens a request carries: the service's, the
// device's and the user's (§3.1.3, §5.6). Each attribute may hold several
// tokens separated by spaces, one per provisioning server (§3.1.5).
type Tokens struct {
	Service, Device, User string
}

// IsZero reports whether no token is set.
func (t Tokens) IsZero() bool { return t == Tokens{} }

// List returns every single token, split at white space, in the order
// service, device, user.
func (t Tokens) List() []string {
	var out []string
	for _, s := range []string{t.Service, t.Device, t.User} {
		out = append(out, strings.Fields(s)...)
	}
	return out
}

func (t Tokens) set(e *xmpp.Element) {
	e.Set("serviceToken", t.Service).Set("deviceToken", t.Device).Set("userToken", t.User)
}

func decodeTokens(e *xmpp.Element) Tokens {
	return Tokens{Service: e.Get("serviceToken"), Device: e.Get("deviceToken"), User: e.Get("userToken")}
}

// NodeRef names a node behind a concentrator (XEP-0326): the node id and,
// for large subsystems, the data source and cache type.
type NodeRef struct {
	NodeID, SourceID, CacheType string
}

func (n NodeRef) element() *xmpp.Element {
	e := xmpp.NewElement(NS, "node")
	e.Attr = append(e.Attr, attr("nodeId", n.NodeID))
	return e.Set("sourceId", n.SourceID).Set("cacheType", n.CacheType)
}

func parseNodeRef(parent string, e *xmpp.Element) (NodeRef, error) {
	if !e.Has("nodeId") {
		return NodeRef{}, fmt.Errorf("%w: %s node without nodeId", ErrMalformed, parent)
	}
	return NodeRef{NodeID: e.Get("nodeId"), SourceID: e.Get("sourceId"), CacheType: e.Get("cacheType")}, nil
}

// Parse decodes any XEP-0324 element the device side exchanges: the
// questions and answers (isFriend, canRead, canControl and their
// responses), the recommendations (friend, unfriend, and the pre-0.3
// capitalised Friend), clearCache, the token elements, and returns the
// matching value type of this package (IsFriend, CanReadResponse, …).
func Parse(e *xmpp.Element) (any, error) {
	v, err := parse(e)
	if err != nil {
		return nil, err
	}
	return v, nil
}

func parse(e *xmpp.Element) (any, error) {
	if e == nil {
		return nil, fmt.Errorf("%w: no element", ErrMalformed)
	}
	if e.Name.Space != NS {
		return nil, fmt.Errorf("%w: %s in namespace %q, want %s", ErrMalformed, e.Name.Local, e.Name.Space, NS)
	}
	switch e.Name.Local {
	case "isFriend":
		j, err := requiredJID(e)
		return IsFriend{JID: j}, err
	case "isFriendResponse":
		return parseIsFriendResponse(e)
	case "friend", "Friend":
		j, err := requiredJID(e)
		return Friend{JID: j}, err
	case "unfriend":
		j, err := requiredJID(e)
		return Unfriend{JID: j}, err
	case "canRead":
		return parseCanRead(e)
	case "canReadResponse":
		return parseCanReadResponse(e)
	case "canControl":
		return parseCanControl(e)
	case "canControlResponse":
		return parseCanControlResponse(e)
	case "clearCache":
		return ClearCache{}, nil
	case "clearCacheResponse":
		return ClearCacheResponse{}, nil
	case "getToken":
		b, err := parseBase64(e)
		return GetToken{Certificate: b}, err
	case "getTokenChallenge":
		n, b, err := parseSeqNrBase64(e)
		return GetTokenChallenge{SeqNr: n, Challenge: b}, err
	case "getTokenChallengeResponse":
		n, b, err := parseSeqNrBase64(e)
		return GetTokenChallengeResponse{SeqNr: n, Response: b}, err
	case "getTokenResponse":
		if !e.Has("token") {
			return nil, fmt.Errorf("%w: getTokenResponse without token", ErrMalformed)
		}
		return GetTokenResponse{Token: e.Get("token")}, nil
	case "tokenChallenge":
		if !e.Has("token") {
			return nil, fmt.Errorf("%w: tokenChallenge without token", ErrMalformed)
		}
		b, err := parseBase64(e)
		return TokenChallenge{Token: e.Get("token"), Challenge: b}, err
	case "tokenChallengeResponse":
		b, err := parseBase64(e)
		return TokenChallengeResponse{Response: b}, err
	}
	return nil, fmt.Errorf("%w: unknown element %s", ErrMalformed, e.Name.Local)
}

// ClearCache asks the device to forget every decision it cached (§3.5.1).
type ClearCache struct{}

// Element returns the clearCache element.
func (ClearCache) Element() *xmpp.Element { return xmpp.NewElement(NS, "clearCache") }

// ClearCacheResponse acknowledges a ClearCache.
type ClearCacheResponse struct{}

// Element returns the clearCacheResponse element.
func (ClearCacheResponse) Element() *xmpp.Element { return xmpp.NewElement(NS, "clearCacheResponse") }

func requiredJID(e *xmpp.Element) (string, error) {
	if !e.Has("jid") {
		return "", fmt.Errorf("%w: %s without jid", ErrMalformed, e.Name.Local)
	}
	return e.Get("jid"), nil
}

func jidElement(local, j string) *xmpp.Element {
	e := xmpp.NewElement(NS, local)
	e.Attr = append(e.Attr, attr("jid", j))
	return e
}

// parseTypes reads the XEP-0323 field type attributes, with the shorthands
// all and historical.
func parseTypes(e *xmpp.Element) (sensors.ReadoutType, error) {
	var types sensors.ReadoutType
	for _, name := range append([]string{"all", "historical"}, sensors.AllTypes.Names()...) {
		v, err := parseBool(e, name)
		if err != nil {
			return 0, err
		}
		if v {
			t, _ := sensors.ParseReadoutType(name)
			types |= t
		}
	}
	return types, nil
}

// setTypes writes t with the shorthands where they apply.
func setTypes(e *xmpp.Element, t sensors.ReadoutType) {
	t &= sensors.AllTypes
	if t == sensors.AllTypes {
		e.Set("all", "true")
		return
	}
	if t.Has(sensors.Historical) {
		e.Set("historical", "true")
		t &^= sensors.Historical
	}
	for _, n := range t.Names() {
		e.Set(n, "true")
	}
}

func attr(name, value string) xml.Attr {
	return xml.Attr{Name: xml.Name{Local: name}, Value: value}
}

// parseBool reads an xs:boolean attribute; absent is false.
func parseBool(e *xmpp.Element, name string) (bool, error) {
	if !e.Has(name) {
		return false, nil
	}
	switch s := strings.TrimSpace(e.Get(name)); s {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	default:
		return false, fmt.Errorf("%w: %s attribute %s=%q is not a boolean", ErrMalformed, e.Name.Local, name, s)
	}
}

// parseResult reads the required result attribute of a response.
func parseResult(e *xmpp.Element) (bool, error) {
	if !e.Has("result") {
		return false, fmt.Errorf("%w: %s without result", ErrMalformed, e.Name.Local)
	}
	return parseBool(e, "result")
}

func formatBool(b bool) string { return strconv.FormatBool(b) }

// parseBase64 decodes the xs:base64Binary content of e; white space inside
// is allowed, as the schema type does.
func parseBase64(e *xmpp.Element) ([]byte, error) {
	s := strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, e.Text())
	if s == "" {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %s content is not base64: %v", ErrMalformed, e.Name.Local, err)
	}
	return b, nil
}

func base64Element(local string, b []byte) *xmpp.Element {
	e := xmpp.NewElement(NS, local)
	if len(b) > 0 {
		e.AddText(base64.StdEncoding.EncodeToString(b))
	}
	return e
}

func parseSeqNrBase64(e *xmpp.Element) (int32, []byte, error) {
	if !e.Has("seqnr") {
		return 0, nil, fmt.Errorf("%w: %s without seqnr", ErrMalformed, e.Name.Local)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(e.Get("seqnr")), 10, 32)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %s seqnr=%q is not an xs:int", ErrMalformed, e.Name.Local, e.Get("seqnr"))
	}
	b, err := parseBase64(e)
	return int32(n), b, err
}
