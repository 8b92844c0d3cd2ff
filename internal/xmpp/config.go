package xmpp

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"time"

	"mellium.im/xmpp/jid"
)

// Config describes how a Session reaches and authenticates to its server.
// The zero values of the optional fields are the safe defaults.
type Config struct {
	// JID is the account (client) or the component domain (component).
	// A client JID without resource gets Resource, or a server-chosen one.
	JID jid.JID
	// Password is the account password (client) or the shared secret
	// (component). It is never logged.
	Password string
	// Component selects a XEP-0114 component session instead of a client.
	Component bool

	// Server is host:port to connect to; empty means the JID's domain,
	// looked up through DNS SRV records and then at port 5222.
	Server string
	// DirectTLS uses XEP-0368 TLS from the first byte instead of STARTTLS.
	DirectTLS bool
	// TLS is the TLS configuration; nil means the system roots and the JID's
	// domain as server name. Certificates are always verified unless the
	// caller sets InsecureSkipVerify itself.
	TLS *tls.Config
	// NoTLS allows a session without TLS (component sessions on loopback
	// only; a client never sends PLAIN without TLS whatever this says).
	NoTLS bool
	// AllowPlain permits SASL PLAIN over TLS when no SCRAM mechanism is
	// offered.
	AllowPlain bool

	// MaxStanzaBytes bounds one incoming stanza; larger input ends the
	// stream with policy-violation. Default 256 KiB.
	MaxStanzaBytes int64
	// Keepalive is the idle time after which the session pings the server;
	// a link that stays silent for Keepalive+PingTimeout is dropped.
	// Default 60 s; negative disables.
	Keepalive   time.Duration
	PingTimeout time.Duration // default 20 s
	// ReconnectMin and ReconnectMax bound the exponential backoff between
	// connection attempts (defaults 1 s and 60 s), with ±25 % jitter.
	ReconnectMin, ReconnectMax time.Duration
	// StreamManagement enables XEP-0198 acks and resumption when the server
	// offers them.
	StreamManagement bool
	// ResumeTimeout is the resumption window asked of the server (the
	// XEP-0198 max attribute); 0 leaves it to the server.
	ResumeTimeout time.Duration
	// MaxQueue bounds the stanzas kept unacknowledged or unsent while
	// disconnected (default 10,000).
	MaxQueue int

	// EXI selects XEP-0322 EXI for the stream (client sessions only).
	EXI EXIConfig

	// Dial opens the network connection; nil means a net.Dialer. Tests use
	// it to cut connections underneath the session.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Logger receives connection events; nil discards them.
	Logger *slog.Logger

	// OnOnline is called after each successful connection, with resumed
	// true when XEP-0198 resumed the previous stream (presence and roster
	// are then still in place and need not be sent again).
	OnOnline func(ctx context.Context, resumed bool)
	// OnOffline is called when a connection is lost.
	OnOffline func(err error)
}

func (c *Config) defaults() {
	if c.MaxStanzaBytes <= 0 {
		c.MaxStanzaBytes = 256 << 10
	}
	if c.Keepalive == 0 {
		c.Keepalive = 60 * time.Second
	}
	if c.PingTimeout <= 0 {
		c.PingTimeout = 20 * time.Second
	}
	if c.ReconnectMin <= 0 {
		c.ReconnectMin = time.Second
	}
	if c.ReconnectMax <= 0 {
		c.ReconnectMax = 60 * time.Second
	}
	if c.ReconnectMax < c.ReconnectMin {
		c.ReconnectMax = c.ReconnectMin
	}
	if c.MaxQueue <= 0 {
		c.MaxQueue = 10000
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}
