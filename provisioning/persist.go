package provisioning

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/internal/xmpp"
)

// NSCache is the namespace of a saved cache: xiot's own format, a cache
// element naming the provisioning server with one decision element per
// cached question and answer, both as XEP-0324 writes them.
const NSCache = "urn:xiot:provisioning:cache:0"

// maxCacheFile bounds what LoadCache reads.
const maxCacheFile = 16 << 20

// SaveCache writes the cached decisions to w, so that a restarted device
// does not ask its provisioning server everything again (XEP-0324 §5.2:
// devices should persist their cache, lest a fleet restarting after a
// power failure overwhelm the server).
func (c *Client) SaveCache(w io.Writer) error {
	root := xmpp.NewElement(NSCache, "cache", "server", c.Server().Bare().String())
	for _, qa := range c.cache.entries() {
		root.Add(xmpp.NewElement(NSCache, "decision").Add(qa[0].Element(), qa[1].Element()))
	}
	var b bytes.Buffer
	root.WriteXML(&b, "")
	b.WriteByte('\n')
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("provisioning: saving the cache: %w", err)
	}
	return nil
}

// LoadCache adds the decisions SaveCache wrote to the cache (as many as
// Options.CacheSize allows) and returns how many it read. A cache saved for another provisioning server is ignored
// (loaded is 0): a new trust relationship starts from an empty cache
// (§5.2). Malformed input loads nothing and returns an error wrapping
// ErrMalformed.
func (c *Client) LoadCache(r io.Reader) (loaded int, err error) {
	server, decisions, err := readCache(io.LimitReader(r, maxCacheFile))
	if err != nil {
		return 0, err
	}
	if current := c.Server().Bare(); !server.Equal(current) {
		c.log.Info("ignoring a provisioning cache saved for another server", "saved", server.String(), "server", current.String())
		return 0, nil
	}
	gen := c.cache.generation()
	for _, d := range decisions {
		c.cache.putQ(d.key, d.who, d.q, d.a, gen)
	}
	return len(decisions), nil
}

type savedDecision struct {
	key, who string
	q        element
	a        any
}

// readCache decodes a saved cache.
func readCache(r io.Reader) (jid.JID, []savedDecision, error) {
	d := xml.NewDecoder(r)
	var root *xmpp.Element
	for root == nil {
		tok, err := d.Token()
		if err != nil {
			return jid.JID{}, nil, fmt.Errorf("%w: saved cache: %v", ErrMalformed, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root, err = xmpp.ReadElement(d, t, xmpp.Limits{MaxDepth: 4}); err != nil {
				return jid.JID{}, nil, fmt.Errorf("%w: saved cache: %v", ErrMalformed, err)
			}
		case xml.CharData, xml.ProcInst:
		default:
			return jid.JID{}, nil, fmt.Errorf("%w: saved cache: unexpected %T", ErrMalformed, tok)
		}
	}
	if root.Name != (xml.Name{Space: NSCache, Local: "cache"}) {
		return jid.JID{}, nil, fmt.Errorf("%w: saved cache: root %s %s", ErrMalformed, root.Name.Space, root.Name.Local)
	}
	server, err := jid.Parse(root.Get("server"))
	if err != nil {
		return jid.JID{}, nil, fmt.Errorf("%w: saved cache: server %q: %v", ErrMalformed, root.Get("server"), err)
	}
	var out []savedDecision
	for _, el := range root.Children() {
		sd, err := readDecision(el)
		if err != nil {
			return jid.JID{}, nil, err
		}
		out = append(out, sd)
	}
	return server.Bare(), out, nil
}

// readDecision decodes one decision: a question about a bare JID and its
// answer, about the same JID.
func readDecision(el *xmpp.Element) (savedDecision, error) {
	kids := el.Children()
	if el.Name != (xml.Name{Space: NSCache, Local: "decision"}) || len(kids) != 2 {
		return savedDecision{}, fmt.Errorf("%w: saved cache: want decision elements of a question and an answer", ErrMalformed)
	}
	q, err := Parse(kids[0])
	if err != nil {
		return savedDecision{}, err
	}
	a, err := Parse(kids[1])
	if err != nil {
		return savedDecision{}, err
	}
	var sd savedDecision
	var about string
	switch q := q.(type) {
	case IsFriend:
		r, ok := a.(IsFriendResponse)
		sd, about = savedDecision{key: friendKey(q), who: q.JID, q: q, a: r}, r.JID
		err = pairErr(ok)
	case CanRead:
		r, ok := a.(CanReadResponse)
		sd, about = savedDecision{key: readKey(q), who: q.JID, q: q, a: r}, r.JID
		err = pairErr(ok)
	case CanControl:
		r, ok := a.(CanControlResponse)
		sd, about = savedDecision{key: controlKey(q), who: q.JID, q: q, a: r}, r.JID
		err = pairErr(ok)
	default:
		err = fmt.Errorf("%w: saved cache: %s is no question", ErrMalformed, kids[0].Name.Local)
	}
	if err != nil {
		return savedDecision{}, err
	}
	j, jerr := jid.Parse(sd.who)
	if jerr != nil || j.Resourcepart() != "" || j.String() != sd.who || about != sd.who {
		return savedDecision{}, fmt.Errorf("%w: saved cache: decision about %q answered about %q", ErrMalformed, sd.who, about)
	}
	return sd, nil
}

func pairErr(ok bool) error {
	if ok {
		return nil
	}
	return errors.Join(ErrMalformed, errors.New("saved cache: answer does not match its question"))
}
