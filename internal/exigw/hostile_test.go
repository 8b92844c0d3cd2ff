package exigw

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/xiot/xiot/exi"
	"github.com/xiot/xiot/internal/xmpp"
)

// defaultEXI are the XEP-0322 default options the gateway answers with
// before a device has sent a valid streamStart.
func defaultEXI(t *testing.T) exi.Options {
	t.Helper()
	o, err := xmpp.EXIParams{ValueMaxLength: 64, ValuePartitionCapacity: 64}.Options(nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// encodeBody encodes el as one EXI body with opts (cookie and options
// header when header).
func encodeBody(t *testing.T, el *xmpp.Element, opts exi.Options, header bool) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := xmpp.NewEXIWriter(opts, xmpp.NSClient).Append(&b, el, header); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Bad input on the EXI side ends that connection with a stream error; the
// gateway and a device connected through it stay up.
func TestHostileEXIInput(t *testing.T) {
	e := startEnv(t)
	cli := connect(t, e.config(t, "client", "cli", e.p.C2SAddr, xmpp.EXIConfig{}, nil), nil)
	dmux := &xmpp.Mux{}
	xmpp.HandlePing(dmux)
	dev := connect(t, e.config(t, "device", "alive", e.alt, xmpp.EXIConfig{Mode: xmpp.EXIAlternative, SchemaInformed: true}, nil), dmux)

	opts := defaultEXI(t)
	start := xmpp.EXIStreamStart(xmpp.NSClient, "to", e.p.Domain, "version", "1.0")
	valid := encodeBody(t, start, opts, true)
	long := xmpp.EXIStreamStart(xmpp.NSClient, "to", strings.Repeat("x", 200<<10), "version", "1.0")
	deepOpts := opts
	deepOpts.Limits.MaxDepth = 1000
	deep := xmpp.NewElement(xmpp.NSClient, "message")
	for cur, i := deep, 0; i < 100; i++ {
		c := xmpp.NewElement("urn:example:deep", "d")
		cur.Add(c)
		cur = c
	}

	for _, tc := range []struct {
		name string
		addr string
		exi  bool   // the answer is EXI (alternative binding)
		in   []byte // what the device sends
		want string // stream error condition; "" when the connection just closes
	}{
		{"garbage", e.alt, true, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), "not-well-formed"},
		{"random bytes", e.alt, true, []byte{0x80, 0xff, 0xff, 0xff, 0xff, 0x13, 0x37, 0x00, 0x01}, "policy-violation"}, // a string length of billions
		{"truncated streamStart", e.alt, true, valid[:len(valid)/2], ""},
		{"oversized value", e.alt, true, encodeBody(t, long, opts, true), "policy-violation"},
		{"nested too deep", e.alt, true, append(valid, encodeBody(t, deep, deepOpts, false)...), "policy-violation"},
		{"XML garbage on the negotiated port", e.neg, false, []byte("<stream:stream xmlns:stream='http://etherx.jabber.org/streams' to='localhost'><a></b>"), "not-well-formed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", tc.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := c.Write(tc.in); err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				// Truncated input: the gateway waits for more, then gives
				// up when we close our side.
				c.(*net.TCPConn).CloseWrite()
			}
			data, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("read answer: %v", err)
			}
			if !tc.exi {
				if !strings.Contains(string(data), "<"+tc.want+" ") || !strings.HasSuffix(string(data), "</stream:stream>") {
					t.Fatalf("answer %q, want stream error %s", data, tc.want)
				}
				return
			}
			if tc.want == "" {
				return
			}
			r := xmpp.NewEXIReader(bytes.NewReader(data), opts)
			el, _, err := r.Next()
			if err != nil {
				// The device's own stream may have been answered first
				// (streamStart and features) before the bad element.
				t.Fatalf("decode answer %x: %v", data, err)
			}
			for xmpp.IsEXI(el, "streamStart") || el.Name.Local == "features" {
				if el, _, err = r.Next(); err != nil {
					t.Fatalf("decode answer: %v", err)
				}
			}
			if el.Name.Space != xmpp.NSStream || el.Name.Local != "error" || el.Child(xmpp.NSStreamErr, tc.want) == nil {
				t.Fatalf("answer %s, want stream error %s", el, tc.want)
			}
			if end, _, err := r.Next(); err != nil || !xmpp.IsEXI(end, "streamEnd") {
				t.Fatalf("after the error: %v %v, want streamEnd", end, err)
			}
		})
	}
	// The device connected before is still served.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := xmpp.Ping(ctx, cli, dev.LocalJID().String()); err != nil {
		t.Fatalf("device behind the gateway after hostile input: %v", err)
	}
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if st := e.g.Stats(); st.Failed >= 5 && st.Active == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v, want the 5 refused connections failed and the device's active", e.g.Stats())
		}
	}
}

// A device that connects and says nothing gets connection-timeout after
// the handshake timeout, whatever the (longer) idle timeout.
func TestTimeouts(t *testing.T) {
	g, err := New(Config{Upstream: "127.0.0.1:1", HandshakeTimeout: 200 * time.Millisecond, IdleTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = g.ServeAlternative(ctx, ln) }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t0 := time.Now()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	data, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	el, _, err := xmpp.NewEXIReader(bytes.NewReader(data), defaultEXI(t)).Next()
	if err != nil || el.Child(xmpp.NSStreamErr, "connection-timeout") == nil {
		t.Fatalf("answer %v %v, want connection-timeout", el, err)
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Fatalf("silent device kept %v", d)
	}
	// The gateway drains the link briefly before it counts the failure.
	for deadline := time.Now().Add(3 * time.Second); g.Stats().Failed != 1; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v", g.Stats())
		}
	}
}
