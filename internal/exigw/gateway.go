// Package exigw is an EXI gateway for XMPP: it accepts devices that speak
// XEP-0322 (EXI-compressed XMPP) and connects each of them to a stock XMPP
// server over a plain XML stream, transcoding stanzas both ways as token
// streams.
//
// Devices reach the gateway in either XEP-0322 form: the negotiated form
// (an XML stream on the normal client port that switches to EXI through
// XEP-0138 compression with the "exi" method after authentication) or the
// alternative binding (a port of its own where EXI starts at the first
// byte). For each device the gateway opens a connection to the upstream
// server, negotiates STARTTLS with certificate verification there, and
// terminates TLS toward the device with its own certificate. SASL is relayed
// element by element, so the upstream server authenticates the device
// itself and the gateway holds no passwords; channel-binding (-PLUS)
// mechanisms are not offered to devices, since two TLS links cannot be
// bound as one. XEP-0322 setup, compress and uploadSchema are answered by
// the gateway; everything else passes through. A negotiating device that
// proposes sessionWideBuffers keeps its EXI string tables for the whole
// stream, with the gateway's encoder and decoder for that device doing the
// same (unless Config.NoSessionWideBuffers lowers it); the alternative
// binding, whose options come from EXI headers, never uses it.
//
// Each connection has a stanza size limit, EXI decoder limits and an idle
// timeout; bad input from a device ends that device's stream with a stream
// error and leaves the gateway and the other connections running. Stats
// reports bytes per side, the compression ratio and connection counts.
package exigw

import (
	"context"
	"crypto/md5"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xiot/xiot/exi/xmppschema"
	"github.com/xiot/xiot/internal/xmpp"
)

// Config configures a Gateway.
type Config struct {
	// Upstream is host:port of the XMPP server's client port (STARTTLS).
	Upstream string
	// UpstreamTLS verifies the upstream server; nil means the system
	// roots. ServerName defaults to the domain a device asks for.
	UpstreamTLS *tls.Config
	// TLS is the gateway's own certificate toward devices; nil offers no
	// STARTTLS (devices on a trusted link only).
	TLS *tls.Config
	// AltPort, when not 0, is the port of the alternative binding, offered
	// to negotiating devices as the compression method "exi:PORT".
	AltPort int
	// Schemas is the schema set for schema-informed streams; nil means
	// the embedded xmppschema set.
	Schemas *xmppschema.Set
	// MaxStanzaBytes bounds one element from a device or the server
	// (default 256 KiB).
	MaxStanzaBytes int64
	// MaxConns bounds concurrent device connections (default 1000).
	MaxConns int
	// IdleTimeout closes a connection on which the device sends nothing
	// for this long (default 5 min).
	IdleTimeout time.Duration
	// HandshakeTimeout bounds the stream negotiation (default 30 s).
	HandshakeTimeout time.Duration
	// Dial opens the upstream connection; nil means a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Logger receives connection events; nil discards them.
	Logger *slog.Logger
	// NoSessionWideBuffers lowers XEP-0322 sessionWideBuffers to false in
	// every setupResponse: devices then start their string tables afresh
	// with each stanza, and a connection holds no tables between stanzas.
	// Otherwise a device that proposes it keeps its tables for the stream,
	// bounded by the EXI limits of each direction.
	NoSessionWideBuffers bool
	// DownloadSchemas are the URL prefixes (e.g.
	// "https://schemas.example.org/xsd/") under which devices may ask the
	// gateway to fetch a schema (XEP-0322 downloadSchema); none refuses
	// every download. A redirect must stay under them too.
	DownloadSchemas []string
	// DownloadTimeout bounds one schema download (default 10 s).
	DownloadTimeout time.Duration
	// HTTPTransport fetches downloaded schemas; nil means
	// http.DefaultTransport.
	HTTPTransport http.RoundTripper
}

// Gateway relays EXI devices to an XMPP server. Its methods are safe for
// concurrent use.
type Gateway struct {
	cfg   Config
	log   *slog.Logger
	slots chan struct{}

	devIn, devOut, upIn, upOut atomic.Int64
	active, total, failed      atomic.Int64
	exiStreams                 atomic.Int64

	cmu     sync.Mutex
	configs map[string]xmpp.EXIParams // agreed setups by configurationId

	wg sync.WaitGroup

	// refuseSWB makes setups that propose sessionWideBuffers fail, as
	// gateways did before they knew the option (tests of the devices'
	// fallback).
	refuseSWB bool
}

// Stats is a snapshot of the gateway's counters.
type Stats struct {
	DeviceBytesIn, DeviceBytesOut     int64 // on the devices' links
	UpstreamBytesIn, UpstreamBytesOut int64 // on the server links
	// Ratio is device bytes over upstream bytes (both directions); below 1
	// means EXI saved bytes on the device links. 0 before any traffic.
	Ratio       float64
	Active      int64 // device connections open now
	Total       int64 // device connections accepted
	Failed      int64 // connections ended by an error
	EXIStreams  int64 // connections that switched to (or started in) EXI
	Connections int64 // alias of Active for dashboards
}

// New returns a gateway for cfg.
func New(cfg Config) (*Gateway, error) {
	if cfg.Upstream == "" {
		return nil, errors.New("exigw: no upstream server")
	}
	if cfg.MaxStanzaBytes <= 0 {
		cfg.MaxStanzaBytes = 256 << 10
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 1000
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 5 * time.Minute
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.DownloadTimeout <= 0 {
		cfg.DownloadTimeout = 10 * time.Second
	}
	for _, p := range cfg.DownloadSchemas {
		if u, err := url.Parse(p); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("exigw: schema download location %q: not an http or https URL", p)
		}
	}
	if cfg.Schemas == nil {
		set, err := xmppschema.New()
		if err != nil {
			return nil, fmt.Errorf("exigw: %w", err)
		}
		cfg.Schemas = set
	}
	return &Gateway{cfg: cfg, log: cfg.Logger, slots: make(chan struct{}, cfg.MaxConns), configs: map[string]xmpp.EXIParams{}}, nil
}

// maxConfigs bounds the remembered setups (XEP-0322 quick configuration).
const maxConfigs = 1024

// remember stores an agreed setup and returns its configuration ID.
func (g *Gateway) remember(p xmpp.EXIParams) string {
	p.Agreement, p.ConfigurationID, p.Missing = true, "", nil
	sum := md5.Sum([]byte(p.Element("setupResponse").String()))
	id := hex.EncodeToString(sum[:])
	g.cmu.Lock()
	defer g.cmu.Unlock()
	if _, ok := g.configs[id]; !ok && len(g.configs) >= maxConfigs {
		for k := range g.configs {
			delete(g.configs, k)
			break
		}
	}
	p.ConfigurationID = id
	g.configs[id] = p
	return id
}

// recall returns the setup of a configuration ID.
func (g *Gateway) recall(id string) (xmpp.EXIParams, bool) {
	g.cmu.Lock()
	defer g.cmu.Unlock()
	p, ok := g.configs[id]
	return p, ok
}

// Stats returns the current counters.
func (g *Gateway) Stats() Stats {
	s := Stats{
		DeviceBytesIn: g.devIn.Load(), DeviceBytesOut: g.devOut.Load(),
		UpstreamBytesIn: g.upIn.Load(), UpstreamBytesOut: g.upOut.Load(),
		Active: g.active.Load(), Total: g.total.Load(), Failed: g.failed.Load(),
		EXIStreams: g.exiStreams.Load(),
	}
	s.Connections = s.Active
	if up := s.UpstreamBytesIn + s.UpstreamBytesOut; up > 0 {
		s.Ratio = float64(s.DeviceBytesIn+s.DeviceBytesOut) / float64(up)
	}
	return s
}

// ServeNegotiated accepts devices on ln that start in XML and may switch
// to EXI (XEP-0322 over XEP-0138). It returns when ctx ends or ln fails.
func (g *Gateway) ServeNegotiated(ctx context.Context, ln net.Listener) error {
	return g.serve(ctx, ln, false)
}

// ServeAlternative accepts devices on ln that speak EXI from the first
// byte (XEP-0322 alternative binding).
func (g *Gateway) ServeAlternative(ctx context.Context, ln net.Listener) error {
	return g.serve(ctx, ln, true)
}

func (g *Gateway) serve(ctx context.Context, ln net.Listener, alt bool) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		c, err := ln.Accept()
		if err != nil {
			g.wg.Wait()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("exigw: accept: %w", err)
		}
		select {
		case g.slots <- struct{}{}:
		default:
			g.log.Warn("connection refused: too many connections", "remote", c.RemoteAddr(), "max", g.cfg.MaxConns)
			c.Close()
			continue
		}
		g.wg.Add(1)
		g.total.Add(1)
		g.active.Add(1)
		go func() {
			defer func() { <-g.slots; g.active.Add(-1); g.wg.Done() }()
			r := newRelay(g, c, alt)
			cctx, cancel := context.WithCancel(ctx)
			defer cancel()
			stopC := context.AfterFunc(cctx, r.closeAll)
			defer stopC()
			if err := r.run(cctx); err != nil {
				g.failed.Add(1)
				g.log.Info("device connection ended", "remote", c.RemoteAddr(), "err", err)
			}
		}()
	}
}

// countConn counts the bytes of a connection into two counters and pushes
// the read deadline forward on each read.
type countConn struct {
	net.Conn
	in, out *atomic.Int64
	idle    time.Duration
}

func (c *countConn) Read(p []byte) (int, error) {
	if c.idle > 0 {
		_ = c.Conn.SetReadDeadline(time.Now().Add(c.idle))
	}
	n, err := c.Conn.Read(p)
	c.in.Add(int64(n))
	return n, err
}

func (c *countConn) Write(p []byte) (int, error) {
	_ = c.Conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
	n, err := c.Conn.Write(p)
	c.out.Add(int64(n))
	return n, err
}
