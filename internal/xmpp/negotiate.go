package xmpp

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmpp/jid"
)

// dial opens the network connection and, for direct TLS, the TLS layer.
func (s *Session) dial(ctx context.Context) (net.Conn, bool, error) {
	addrs, err := s.addresses(ctx)
	if err != nil {
		return nil, false, err
	}
	dial := s.cfg.Dial
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	var lastErr error
	for _, addr := range addrs {
		conn, err := dial(ctx, "tcp", addr)
		if err != nil {
			lastErr = fmt.Errorf("connect to %s: %w", addr, err)
			continue
		}
		if !s.cfg.DirectTLS {
			return conn, false, nil
		}
		tc := tls.Client(conn, s.tlsConfig())
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, false, fmt.Errorf("direct TLS to %s: %w", addr, err)
		}
		return tc, true, nil
	}
	return nil, false, lastErr
}

// addresses returns the host:port candidates to try, per RFC 6120 §3.2 and
// XEP-0368 when no server is configured.
func (s *Session) addresses(ctx context.Context) ([]string, error) {
	if s.cfg.Server != "" {
		return []string{s.cfg.Server}, nil
	}
	domain := s.cfg.JID.Domainpart()
	service, port := "xmpp-client", "5222"
	if s.cfg.DirectTLS {
		service, port = "xmpps-client", "5223"
	}
	var out []string
	if _, srvs, err := net.DefaultResolver.LookupSRV(ctx, service, "tcp", domain); err == nil {
		for _, srv := range srvs {
			if srv.Target == "." {
				return nil, fmt.Errorf("%s: the domain says it offers no XMPP service (SRV target \".\")", domain)
			}
			out = append(out, net.JoinHostPort(strings.TrimSuffix(srv.Target, "."), strconv.Itoa(int(srv.Port))))
		}
	}
	return append(out, net.JoinHostPort(domain, port)), nil
}

func (s *Session) tlsConfig() *tls.Config {
	var c *tls.Config
	if s.cfg.TLS != nil {
		c = s.cfg.TLS.Clone()
	} else {
		c = &tls.Config{}
	}
	if c.ServerName == "" {
		c.ServerName = s.cfg.JID.Domainpart()
	}
	if c.MinVersion == 0 {
		c.MinVersion = tls.VersionTLS12
	}
	if c.ClientSessionCache == nil {
		// TLS session resumption across reconnections: the server's
		// certificate and signature are not sent again, which a
		// constrained link notices.
		c.ClientSessionCache = s.tlsSessions
	}
	return c
}

// negotiateClient takes a fresh connection through STARTTLS, SASL, and
// either XEP-0198 resumption or resource binding.
func (s *Session) negotiateClient(ctx context.Context, conn net.Conn, secure bool) (st *stream, resumed bool, err error) {
	st = newStream(conn, NSClient, s.cfg.MaxStanzaBytes)
	st.onWrite, st.onRead = s.countOut, s.countIn
	domain := s.cfg.JID.Domainpart()
	fail := func(err error) (*stream, bool, error) {
		if se, ok := err.(*StreamError); ok {
			st.fail(se)
		} else {
			st.close()
		}
		return nil, false, err
	}
	if s.cfg.EXI.Mode == EXIAlternative {
		if err := s.startEXIAlternative(st); err != nil {
			return fail(err)
		}
	}
	features, err := st.open(domain, true)
	if err != nil {
		return fail(err)
	}
	if !secure {
		if features.Child(NSTLS, "starttls") == nil {
			if !s.cfg.NoTLS {
				return fail(ErrNoTLS)
			}
		} else {
			if err := st.writeElements(NewElement(NSTLS, "starttls")); err != nil {
				return fail(err)
			}
			el, err := st.next()
			if err != nil {
				return fail(err)
			}
			if el.Name.Local != "proceed" {
				return fail(fmt.Errorf("server refused STARTTLS (%s)", el.Name.Local))
			}
			tc := tls.Client(conn, s.tlsConfig())
			if err := tc.HandshakeContext(ctx); err != nil {
				conn.Close()
				return nil, false, fmt.Errorf("TLS with %s: %w", domain, err)
			}
			st.conn = tc
			st.reset()
			secure = true
			if features, err = st.open(domain, true); err != nil {
				return fail(err)
			}
		}
	}
	if err := s.authenticate(st, features, secure); err != nil {
		return fail(err)
	}
	st.reset()
	if features, err = st.open(domain, true); err != nil {
		return fail(err)
	}
	if s.cfg.EXI.Mode == EXINegotiate {
		if features, err = s.negotiateEXI(st, features); err != nil {
			return fail(err)
		}
	}
	smOffered := features.Child(NSSM, "sm") != nil

	// Try to resume the previous stream (XEP-0198 §5).
	if prev, h, ok := s.sm.resumeToken(); ok && smOffered {
		if err := st.writeElements(NewElement(NSSM, "resume", "previd", prev, "h", strconv.FormatUint(uint64(h), 10))); err != nil {
			return fail(err)
		}
		el, err := st.next()
		if err != nil {
			return fail(err)
		}
		switch el.Name.Local {
		case "resumed":
			// h says what the server got before the link dropped; the
			// rest of our queue is sent again once we are online.
			if h, err := strconv.ParseUint(el.Get("h"), 10, 32); err == nil {
				s.sm.ack(uint32(h))
			}
			return st, true, nil
		default: // failed: bind a new session
			s.log.Info("stream resumption refused; starting a new session", "condition", firstChildName(el))
			s.sm.resumeFailed(el.Get("h"))
		}
	}
	if err := s.bind(st); err != nil {
		return fail(err)
	}
	if sess := features.Child(NSSession, "session"); sess != nil && sess.Child("", "optional") == nil {
		if _, err := s.negotiationIQ(st, NewElement(NSSession, "session")); err != nil {
			return fail(fmt.Errorf("session establishment: %w", err))
		}
	}
	if s.cfg.StreamManagement && smOffered {
		enable := NewElement(NSSM, "enable", "resume", "true")
		if s.cfg.ResumeTimeout > 0 {
			enable.Set("max", strconv.Itoa(int(s.cfg.ResumeTimeout/time.Second)))
		}
		if err := st.writeElements(enable); err != nil {
			return fail(err)
		}
		el, err := st.next()
		if err != nil {
			return fail(err)
		}
		if el.Name.Local == "enabled" {
			s.sm.enabled(el.Get("id"), el.Get("resume") == "true" || el.Get("resume") == "1")
		} else {
			s.log.Warn("stream management refused by the server", "condition", firstChildName(el))
			s.sm.disabled()
		}
	} else {
		s.sm.disabled()
	}
	return st, false, nil
}

func firstChildName(el *Element) string {
	if c := el.FirstChild(); c != nil {
		return c.Name.Local
	}
	return ""
}

// authenticate runs SASL with the best mechanism the server offers.
func (s *Session) authenticate(st *stream, features *Element, secure bool) error {
	mechs := features.Child(NSSASL, "mechanisms")
	if mechs == nil {
		return ErrNoMechanism
	}
	offered := map[string]bool{}
	var names []string
	for _, m := range mechs.Children() {
		offered[m.Text()] = true
		names = append(names, m.Text())
	}
	var mech sasl.Mechanism
	switch {
	case offered["SCRAM-SHA-256"]:
		mech = sasl.ScramSha256
	case offered["SCRAM-SHA-1"]:
		mech = sasl.ScramSha1
	case offered["PLAIN"] && secure && s.cfg.AllowPlain:
		mech = sasl.Plain
	default:
		return fmt.Errorf("%w; server offers %s", ErrNoMechanism, strings.Join(names, ", "))
	}
	user := s.cfg.JID.Localpart()
	client := sasl.NewClient(mech,
		sasl.Credentials(func() ([]byte, []byte, []byte) { return []byte(user), []byte(s.cfg.Password), nil }),
		sasl.RemoteMechanisms(names...))
	_, resp, err := client.Step(nil)
	if err != nil {
		return fmt.Errorf("SASL %s: %w", mech.Name, err)
	}
	if err := st.writeElements(NewElement(NSSASL, "auth", "mechanism", mech.Name).AddText(b64(resp))); err != nil {
		return err
	}
	for {
		el, err := st.next()
		if err != nil {
			return err
		}
		data, derr := base64.StdEncoding.DecodeString(el.Text())
		if derr != nil && el.Name.Local != "failure" {
			return fmt.Errorf("SASL %s: bad base64 from server: %w", mech.Name, derr)
		}
		switch el.Name.Local {
		case "challenge":
			_, resp, err := client.Step(data)
			if err != nil {
				_ = st.writeElements(NewElement(NSSASL, "abort"))
				return fmt.Errorf("SASL %s: %w", mech.Name, err)
			}
			if err := st.writeElements(NewElement(NSSASL, "response").AddText(b64(resp))); err != nil {
				return err
			}
		case "success":
			if strings.HasPrefix(mech.Name, "SCRAM") && len(data) == 0 && client.State()&sasl.StepMask != sasl.ValidServerResponse {
				return fmt.Errorf("SASL %s: server did not prove it knows the password (no server signature)", mech.Name)
			}
			if len(data) > 0 && client.State()&sasl.StepMask != sasl.ValidServerResponse {
				// SCRAM: verify the server's signature; a server that
				// does not know our password must not pass.
				if _, _, err := client.Step(data); err != nil {
					return fmt.Errorf("SASL %s: server signature not valid: %w", mech.Name, err)
				}
			}
			s.log.Debug("authenticated", "mechanism", mech.Name)
			s.mu.Lock()
			s.mech = mech.Name
			s.mu.Unlock()
			return nil
		case "failure":
			ae := &AuthError{JID: s.cfg.JID.Bare().String(), Mechanism: mech.Name, Condition: "undefined-condition"}
			for _, c := range el.Children() {
				if c.Name.Local == "text" {
					ae.Text = c.Text()
				} else {
					ae.Condition = c.Name.Local
				}
			}
			return ae
		default:
			return fmt.Errorf("SASL: unexpected <%s/>", el.Name.Local)
		}
	}
}

func b64(p []byte) string {
	if len(p) == 0 {
		return "="
	}
	return base64.StdEncoding.EncodeToString(p)
}

// bind asks the server for our full JID (RFC 6120 §7).
func (s *Session) bind(st *stream) error {
	b := NewElement(NSBind, "bind")
	if r := s.cfg.JID.Resourcepart(); r != "" {
		b.Add(NewElement(NSBind, "resource").AddText(r))
	}
	res, err := s.negotiationIQ(st, b)
	if err != nil {
		return fmt.Errorf("resource binding: %w", err)
	}
	var full string
	if bd := res.Child(NSBind, "bind"); bd != nil {
		if j := bd.Child(NSBind, "jid"); j != nil {
			full = j.Text()
		}
	}
	j, err := jid.Parse(full)
	if err != nil {
		return fmt.Errorf("resource binding: server returned bad JID %q: %w", full, err)
	}
	s.setLocal(j)
	return nil
}

// negotiationIQ sends an IQ set during negotiation and reads its answer.
func (s *Session) negotiationIQ(st *stream, payload *Element) (*Element, error) {
	id := s.ids.next()
	if err := st.writeElements(NewElement(NSClient, "iq", "type", "set", "id", id).Add(payload)); err != nil {
		return nil, err
	}
	for {
		el, err := st.next()
		if err != nil {
			return nil, err
		}
		if el.Name.Local != "iq" || el.Get("id") != id {
			continue
		}
		if el.Get("type") == "error" {
			return nil, ParseStanzaError(el)
		}
		return el, nil
	}
}

// negotiateComponent performs the XEP-0114 handshake.
func (s *Session) negotiateComponent(conn net.Conn) (*stream, error) {
	st := newStream(conn, NSComponent, s.cfg.MaxStanzaBytes)
	st.onWrite, st.onRead = s.countOut, s.countIn
	domain := s.cfg.JID.Domainpart()
	if _, err := st.open(domain, false); err != nil {
		st.close()
		return nil, fmt.Errorf("component stream for %s: %w", domain, err)
	}
	sum := sha1.Sum([]byte(st.id + s.cfg.Password))
	if err := st.writeElements(NewElement(NSComponent, "handshake").AddText(hex.EncodeToString(sum[:]))); err != nil {
		st.close()
		return nil, err
	}
	el, err := st.next()
	if err != nil {
		st.close()
		if se, ok := err.(*remoteStreamError); ok && se.Condition == "not-authorized" {
			return nil, &AuthError{JID: domain, Mechanism: "XEP-0114 handshake", Condition: "not-authorized", Text: se.Text}
		}
		return nil, fmt.Errorf("component handshake for %s: %w", domain, err)
	}
	if el.Name.Local != "handshake" {
		st.close()
		return nil, fmt.Errorf("component handshake for %s: unexpected <%s/>", domain, el.Name.Local)
	}
	s.setLocal(s.cfg.JID.Domain())
	return st, nil
}

// idGen makes the IDs of a session's own stanzas: a random prefix drawn
// once per session and a counter in base 36 ("k3Zq1", "k3Zq2", …), unique
// for the session's life and 5 to 8 characters long. Short IDs matter on
// a constrained link: an IQ's ID travels in the request and again in its
// answer, and being new each time it cannot be indexed by EXI's string
// tables (twelve random characters were a quarter of the bytes of a
// readout exchange over EXI). Unpredictable IDs are not needed against
// forged answers: an answer is accepted only from the address the
// request went to (answersLocked), which the server stamps.
type idGen struct {
	prefix string
	n      atomic.Uint64
}

func newIDGen() *idGen {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return &idGen{prefix: base64.RawURLEncoding.EncodeToString(b[:])}
}

// next returns a new ID.
func (g *idGen) next() string {
	return g.prefix + strconv.FormatUint(g.n.Add(1), 36)
}
