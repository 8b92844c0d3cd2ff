package provisioning

import (
	"context"
	"sync"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/internal/xmpp"
)

// Register routes what the provisioning server sends the device: clearCache
// (IQ set; get too, as peers of the 2013 drafts send it), tokenChallenge
// (IQ get), the friend (also Friend) and unfriend messages, and the
// server's presence (see New about a server that is a client account).
// Orders from anybody but the provisioning server are refused (IQs) or
// ignored (messages), as §3.2.3 requires.
func (c *Client) Register(mux *xmpp.Mux) {
	cc := xmpp.HandlerFunc(c.handleClearCache)
	mux.IQ("set", NS, "clearCache", cc)
	mux.IQ("get", NS, "clearCache", cc)
	mux.IQ("get", NS, "tokenChallenge", xmpp.HandlerFunc(c.handleTokenChallenge))
	msg := xmpp.HandlerFunc(c.handleMessage)
	mux.Message(NS, "friend", msg)
	mux.Message(NS, "Friend", msg)
	mux.Message(NS, "unfriend", msg)
	mux.Presence(xmpp.HandlerFunc(c.handlePresence))
}

// handlePresence follows the provisioning server's presence when it is a
// client account given by its bare JID: IQs to a bare JID are answered by
// the account's server, not the client, so questions go to the full JID
// that last said it is available.
func (c *Client) handlePresence(_ context.Context, _ *xmpp.Session, p *xmpp.Element) error {
	from, err := jid.Parse(p.Get("from"))
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.server.Localpart() == "" || c.server.Resourcepart() != "" || !from.Bare().Equal(c.server.Bare()) {
		return nil
	}
	switch p.Get("type") {
	case "":
		c.addr = from
	case "unavailable":
		if c.addr.Equal(from) {
			c.addr = jid.JID{}
		}
	}
	return nil
}

// target returns the address questions go to.
func (c *Client) target() jid.JID {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.addr.String() != "" {
		return c.addr
	}
	return c.server
}

// Features returns the service discovery features of the device side:
// none, since XEP-0324 §4 defines its feature for provisioning servers
// only.
func (c *Client) Features() []string { return nil }

// fromServer reports whether st comes from the provisioning server (any
// resource of it).
func (c *Client) fromServer(st *xmpp.Element) bool {
	from, err := jid.Parse(st.Get("from"))
	server := c.Server()
	return err == nil && server.String() != "" && from.Bare().Equal(server.Bare())
}

func (c *Client) handleClearCache(ctx context.Context, s *xmpp.Session, iq *xmpp.Element) error {
	if !c.fromServer(iq) {
		c.log.Warn("refusing clearCache from a stranger", "from", iq.Get("from"))
		return xmpp.NewStanzaError("cancel", "forbidden", "")
	}
	n := c.cache.len()
	c.cache.clear()
	c.log.Info("provisioning cache cleared by the server", "decisions", n)
	if c.opts.OnClearCache != nil {
		c.calls.do(func() { c.opts.OnClearCache(ctx) })
	}
	return s.Send(ctx, xmpp.ResultIQ(iq, ClearCacheResponse{}.Element()))
}

func (c *Client) handleMessage(ctx context.Context, _ *xmpp.Session, msg *xmpp.Element) error {
	if msg.Get("type") == "error" {
		return nil
	}
	if !c.fromServer(msg) {
		c.log.Debug("ignoring a provisioning message from a stranger", "from", msg.Get("from"))
		return nil
	}
	for _, el := range msg.Children() {
		if el.Name.Space != NS {
			continue
		}
		v, err := Parse(el)
		if err != nil {
			c.log.Warn("ignoring a malformed provisioning message", "err", err)
			continue
		}
		var j string
		var cb func(context.Context, jid.JID)
		switch v := v.(type) {
		case Friend:
			j, cb = v.JID, c.opts.OnFriend
		case Unfriend:
			j, cb = v.JID, c.opts.OnUnfriend
		default:
			continue
		}
		friend, err := jid.Parse(j)
		if err != nil {
			c.log.Warn("ignoring a provisioning message with an invalid jid", "jid", j, "err", err)
			continue
		}
		friend = friend.Bare()
		// What was decided about this JID is no longer true.
		c.cache.forget(friend.String())
		c.log.Info("provisioning recommendation", "what", el.Name.Local, "jid", friend.String())
		if cb != nil {
			c.calls.do(func() { cb(ctx, friend) })
		}
	}
	return nil
}

// maxQueued bounds the callbacks waiting to run.
const maxQueued = 1024

// serial runs functions one after the other, in the order given, on a
// goroutine that exists only while there is work.
type serial struct {
	mu      sync.Mutex
	queue   []func()
	running bool
}

func (s *serial) do(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) >= maxQueued {
		return
	}
	s.queue = append(s.queue, f)
	if !s.running {
		s.running = true
		go s.drain()
	}
}

func (s *serial) drain() {
	for {
		s.mu.Lock()
		if len(s.queue) == 0 {
			s.running = false
			s.mu.Unlock()
			return
		}
		f := s.queue[0]
		s.queue = s.queue[1:]
		s.mu.Unlock()
		f()
	}
}
