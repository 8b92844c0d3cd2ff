package config

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/xiot/xiot/internal/xmpp"
	"mellium.im/xmpp/jid"
)

// XMPPClient returns the session configuration of the account: JID (with
// resource, when given, replacing the configured one), password, server,
// TLS and the xmpp: tuning section. It reads the password file, so call it
// after Preflight; its errors name the key at fault.
func (c *Config) XMPPClient(resource string, log *slog.Logger) (xmpp.Config, error) {
	pass, err := c.Password()
	if err != nil {
		return xmpp.Config{}, err
	}
	tc, err := c.TLSConfig()
	if err != nil {
		return xmpp.Config{}, err
	}
	j := c.Account.JID
	if resource != "" {
		if j, err = j.WithResource(resource); err != nil {
			return xmpp.Config{}, c.src.at("account.jid", fmt.Errorf("resource %q: %w", resource, err))
		}
	}
	x := c.XMPP
	return xmpp.Config{
		JID:              j,
		Password:         pass,
		Server:           c.server(),
		DirectTLS:        c.Account.DirectTLS,
		TLS:              tc,
		AllowPlain:       c.Account.AllowPlain,
		MaxStanzaBytes:   int64(x.MaxStanzaBytes),
		Keepalive:        keepalive(x),
		ReconnectMin:     x.ReconnectMin,
		ReconnectMax:     x.ReconnectMax,
		StreamManagement: x.StreamManagement,
		ResumeTimeout:    x.ResumeTimeout,
		EXI:              c.exiSession(),
		Logger:           log,
	}, nil
}

// XMPPComponent returns the XEP-0114 session configuration of the
// component section. Component connections run on loopback or a private
// link to the server's component port, without TLS (XEP-0114 has none).
func (c *Config) XMPPComponent(log *slog.Logger) (xmpp.Config, error) {
	secret, err := c.ComponentSecret()
	if err != nil {
		return xmpp.Config{}, err
	}
	j, err := parseDomainJID(c.Component.Domain)
	if err != nil {
		return xmpp.Config{}, c.src.at("component.domain", err)
	}
	x := c.XMPP
	return xmpp.Config{
		JID:            j,
		Password:       secret,
		Component:      true,
		Server:         c.Component.Server,
		NoTLS:          true,
		MaxStanzaBytes: int64(x.MaxStanzaBytes),
		Keepalive:      keepalive(x),
		ReconnectMin:   x.ReconnectMin,
		ReconnectMax:   x.ReconnectMax,
		Logger:         log,
	}, nil
}

// keepalive maps the file's 0 ("disabled") to the session's negative value.
func keepalive(x XMPP) time.Duration {
	if x.Keepalive == 0 {
		return -1
	}
	return x.Keepalive
}

// parseDomainJID parses a component domain, which must be a bare domain.
func parseDomainJID(s string) (jid.JID, error) {
	j, err := jid.Parse(s)
	if err != nil {
		return jid.JID{}, fmt.Errorf("not a valid domain: %q: %w", s, err)
	}
	if j.Localpart() != "" || j.Resourcepart() != "" {
		return jid.JID{}, fmt.Errorf("%q is not a bare domain", s)
	}
	return j, nil
}
