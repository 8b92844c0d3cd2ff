package xmpp_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/internal/xmpp"
)

// fakeServer is a scripted peer on loopback for what a real server never
// sends: malformed XML and hostile sizes. It records what the client
// wrote.
type fakeServer struct {
	ln   net.Listener
	mu   sync.Mutex
	got  strings.Builder
	done chan struct{}
}

func startFake(t *testing.T, script func(c net.Conn, r *bufio.Reader)) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeServer{ln: ln, done: make(chan struct{})}
	t.Cleanup(func() { ln.Close(); <-f.done })
	go func() {
		defer close(f.done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		script(c, bufio.NewReader(io.TeeReader(c, f)))
	}()
	return f
}

func (f *fakeServer) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.got.Write(p)
}

func (f *fakeServer) received() string {
	<-f.done
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.got.String()
}

// readUntil reads from r until the accumulated input contains s.
func readUntil(r *bufio.Reader, s string) bool {
	var b strings.Builder
	buf := make([]byte, 512)
	for !strings.Contains(b.String(), s) {
		n, err := r.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return false
		}
	}
	return true
}

const componentHeader = `<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' from='comp.localhost' id='abc123'>`

// componentSession logs a component in to the fake server, whose script
// continues after the handshake with after.
func componentSession(t *testing.T, after func(c net.Conn, r *bufio.Reader)) (*fakeServer, *xmpp.Session, error) {
	t.Helper()
	return componentSessionMux(t, nil, after)
}

// componentSessionMux is componentSession with the component's mux.
func componentSessionMux(t *testing.T, mux *xmpp.Mux, after func(c net.Conn, r *bufio.Reader)) (*fakeServer, *xmpp.Session, error) {
	t.Helper()
	f := startFake(t, func(c net.Conn, r *bufio.Reader) {
		if !readUntil(r, "<stream:stream") {
			return
		}
		io.WriteString(c, componentHeader)
		if !readUntil(r, "</handshake>") {
			return
		}
		io.WriteString(c, "<handshake/>")
		after(c, r)
	})
	s := xmpp.New(xmpp.Config{
		JID: jid.MustParse("comp.localhost"), Password: "secret", Component: true,
		Server: f.ln.Addr().String(), NoTLS: true, MaxStanzaBytes: 4096, Keepalive: -1,
	}, mux)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := s.Connect(ctx)
	t.Cleanup(func() { s.Close() })
	return f, s, err
}

func TestMalformedInputEndsStreamWithError(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  string // stream error condition the client must send
	}{
		{"not well-formed", "<message to='a@b'><body>x</bod></message>", "not-well-formed"},
		{"bad entity", "<message><body>&bogus;</body></message>", "not-well-formed"},
		{"oversized stanza", "<message><body>" + strings.Repeat("x", 64<<10) + "</body></message>", "policy-violation"},
		{"too deep", strings.Repeat("<a>", 200), "policy-violation"},
		{"restricted XML: comment", "<!-- no comments in XMPP --><message/>", "restricted-xml"},
		{"restricted XML: processing instruction", "<?pi data?><message/>", "restricted-xml"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, _, err := componentSession(t, func(c net.Conn, r *bufio.Reader) {
				io.WriteString(c, tc.input)
				readUntil(r, "</stream:stream>")
			})
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			got := f.received()
			streamErr := strings.Contains(got, "<stream:error>") || strings.Contains(got, `<error xmlns="http://etherx.jabber.org/streams">`)
			if !streamErr || !strings.Contains(got, "<"+tc.want+` xmlns="urn:ietf:params:xml:ns:xmpp-streams"`) || !strings.HasSuffix(got, "</stream:stream>") {
				t.Errorf("client wrote %q, want a %s stream error", tail(got), tc.want)
			}
		})
	}
}

func TestUnknownIQOnComponentGetsError(t *testing.T) {
	f, _, err := componentSession(t, func(c net.Conn, r *bufio.Reader) {
		io.WriteString(c, "<iq type='get' id='q1' from='a@localhost/x' to='comp.localhost'><query xmlns='urn:example:nothing'/></iq>")
		readUntil(r, "</iq>")
	})
	if err != nil {
		t.Fatal(err)
	}
	got := f.received()
	if !strings.Contains(got, `type="error"`) || !strings.Contains(got, "<service-unavailable") || !strings.Contains(got, `id="q1"`) {
		t.Errorf("client answered %q", tail(got))
	}
}

func TestPlainNeverWithoutTLS(t *testing.T) {
	f := startFake(t, func(c net.Conn, r *bufio.Reader) {
		if !readUntil(r, "<stream:stream") {
			return
		}
		io.WriteString(c, `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' from='localhost' id='s1' version='1.0'>`+
			`<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>`)
		readUntil(r, "</stream:stream>")
	})
	s := xmpp.New(xmpp.Config{
		JID: jid.MustParse("device@localhost/agent"), Password: "secret-password",
		Server: f.ln.Addr().String(), NoTLS: true, AllowPlain: true, Keepalive: -1,
	}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := s.Connect(ctx)
	s.Close()
	if err == nil {
		t.Fatal("logged in with PLAIN over an unencrypted connection")
	}
	var ae *xmpp.AuthError
	if !errors.As(err, &ae) && !errors.Is(err, xmpp.ErrNoMechanism) {
		t.Logf("error: %v", err)
	}
	got := f.received()
	if strings.Contains(got, "<auth") || strings.Contains(got, "secret") {
		t.Errorf("client sent credentials without TLS: %q", got)
	}
}

func tail(s string) string {
	if len(s) > 300 {
		return "…" + s[len(s)-300:]
	}
	return s
}

// FuzzReadElement feeds arbitrary bytes to the stanza reader: it must
// return an element or an error, within its limits, and never panic.
func FuzzReadElement(f *testing.F) {
	for _, s := range []string{
		"<message to='a@b'><body>hi</body></message>",
		"<iq type='get' id='1'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
		"<presence><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n' ver='v'/></presence>",
		"<a>" + strings.Repeat("<b>", 100),
		"<a><!-- c --></a>",
		"<a xmlns:p='urn:x' p:attr='1'>&amp;&lt;</a>",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := xml.NewDecoder(bytes.NewReader(data))
		d.Strict = true
		tok, err := d.Token()
		for err == nil {
			if start, ok := tok.(xml.StartElement); ok {
				el, err := xmpp.ReadElement(d, start, xmpp.Limits{MaxDepth: 32})
				if err == nil {
					_ = el.String()
				}
				return
			}
			tok, err = d.Token()
		}
	})
}

// TestIQResponseFromElsewhereIsIgnored: a result with the right id from
// another address does not answer our request (RFC 6120 §8.1.2.1).
func TestIQResponseFromElsewhereIsIgnored(t *testing.T) {
	idc := make(chan string, 1)
	_, s, err := componentSession(t, func(c net.Conn, r *bufio.Reader) {
		var b strings.Builder
		buf := make([]byte, 512)
		re := regexp.MustCompile(`id="([^"]+)"`)
		for {
			n, err := r.Read(buf)
			b.Write(buf[:n])
			if m := re.FindStringSubmatch(b.String()); m != nil && strings.Contains(b.String(), "<ping") {
				idc <- m[1]
				io.WriteString(c, "<iq type='result' id='"+m[1]+"' from='evil@localhost/x' to='comp.localhost'/>")
				io.WriteString(c, "<iq type='error' id='"+m[1]+"' from='a@localhost/x' to='comp.localhost'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")
				readUntil(r, "</stream:stream>")
				return
			}
			if err != nil {
				return
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = xmpp.Ping(ctx, s, "a@localhost/x")
	var se *xmpp.StanzaError
	if !errors.As(err, &se) || se.Condition != "item-not-found" {
		t.Errorf("ping: %v; want the real peer's item-not-found, not the spoofed result", err)
	}
	<-idc
}
