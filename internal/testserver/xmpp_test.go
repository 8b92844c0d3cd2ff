package testserver

import (
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"testing"
	"time"
)

// rawStream is a minimal hand-written XMPP client used to check the server
// from the outside: stream headers, STARTTLS, SASL PLAIN and the XEP-0114
// handshake. It deliberately shares no code with the xiot client.
type rawStream struct {
	conn net.Conn
	dec  *xml.Decoder
}

// streamFeatures is the subset of <stream:features/> the tests look at.
type streamFeatures struct {
	StartTLS *struct {
		Required *struct{} `xml:"required"`
	} `xml:"urn:ietf:params:xml:ns:xmpp-tls starttls"`
	Mechanisms []string `xml:"urn:ietf:params:xml:ns:xmpp-sasl mechanisms>mechanism"`
}

func dialRaw(t *testing.T, addr string) *rawStream {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	s := &rawStream{}
	s.reset(conn)
	return s
}

// reset starts reading a fresh stream over conn (after TLS).
func (s *rawStream) reset(conn net.Conn) {
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	s.conn = conn
	s.dec = xml.NewDecoder(conn)
}

// open sends a stream header and returns the server's stream id.
func (s *rawStream) open(ns, to string) (string, error) {
	_, err := fmt.Fprintf(s.conn, "<?xml version='1.0'?><stream:stream xmlns='%s' "+
		"xmlns:stream='http://etherx.jabber.org/streams' to='%s' version='1.0'>", ns, to)
	if err != nil {
		return "", fmt.Errorf("send stream header: %w", err)
	}
	for {
		tok, err := s.dec.Token()
		if err != nil {
			return "", fmt.Errorf("read stream header: %w", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if se.Name.Local != "stream" {
				return "", fmt.Errorf("got <%s>, want <stream:stream>", se.Name.Local)
			}
			for _, a := range se.Attr {
				if a.Name.Local == "id" {
					return a.Value, nil
				}
			}
			return "", nil
		}
	}
}

// next decodes the next top-level element into v (which may be nil) and
// returns its name.
func (s *rawStream) next(v any) (xml.Name, error) {
	for {
		tok, err := s.dec.Token()
		if err != nil {
			return xml.Name{}, fmt.Errorf("read element: %w", err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if v == nil {
			return se.Name, s.dec.Skip()
		}
		return se.Name, s.dec.DecodeElement(v, &se)
	}
}

// startTLS opens a client stream, checks the features and upgrades the
// connection with cfg. It returns the TLS handshake error, if any.
func (s *rawStream) startTLS(t *testing.T, cfg *tls.Config) error {
	t.Helper()
	if _, err := s.open("jabber:client", "localhost"); err != nil {
		t.Fatal(err)
	}
	var f streamFeatures
	if _, err := s.next(&f); err != nil {
		t.Fatal(err)
	}
	if f.StartTLS == nil || f.StartTLS.Required == nil {
		t.Fatalf("features before TLS: want required <starttls/>, got %+v", f)
	}
	if _, err := io.WriteString(s.conn, "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"); err != nil {
		t.Fatal(err)
	}
	name, err := s.next(nil)
	if err != nil {
		t.Fatal(err)
	}
	if name.Local != "proceed" {
		t.Fatalf("after <starttls/>: got <%s>, want <proceed/>", name.Local)
	}
	tc := tls.Client(s.conn, cfg)
	if err := tc.Handshake(); err != nil {
		return err
	}
	s.reset(tc)
	return nil
}

// plainAuth sends SASL PLAIN on a secured stream and returns the mechanisms
// offered and whether the server answered <success/>.
func (s *rawStream) plainAuth(t *testing.T, user, pass string) ([]string, bool) {
	t.Helper()
	if _, err := s.open("jabber:client", "localhost"); err != nil {
		t.Fatal(err)
	}
	var f streamFeatures
	if _, err := s.next(&f); err != nil {
		t.Fatal(err)
	}
	creds := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
	_, err := fmt.Fprintf(s.conn, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>%s</auth>", creds)
	if err != nil {
		t.Fatal(err)
	}
	name, err := s.next(nil)
	if err != nil {
		t.Fatal(err)
	}
	switch name.Local {
	case "success":
		return f.Mechanisms, true
	case "failure":
		return f.Mechanisms, false
	default:
		t.Fatalf("after <auth/>: got <%s>", name.Local)
		return nil, false
	}
}

// componentHandshake performs the XEP-0114 handshake and reports whether
// the server accepted it.
func componentHandshake(t *testing.T, addr, domain, secret string) bool {
	t.Helper()
	s := dialRaw(t, addr)
	id, err := s.open("jabber:component:accept", domain)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum([]byte(id + secret))
	if _, err := fmt.Fprintf(s.conn, "<handshake>%s</handshake>", hex.EncodeToString(sum[:])); err != nil {
		t.Fatal(err)
	}
	name, err := s.next(nil)
	if err != nil {
		// Prosody closes the stream after a <stream:error/>; either way the
		// handshake was not accepted.
		return false
	}
	return name.Local == "handshake"
}
