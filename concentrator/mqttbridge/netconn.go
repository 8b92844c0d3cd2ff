package mqttbridge

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"os"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"golang.org/x/net/proxy"
)

// readBufferSize is the read buffer of a broker connection: a burst of
// retained messages after a (re)subscription arrives in reads of this
// size instead of one per packet header byte.
const readBufferSize = 32 << 10

// dialBroker opens the network connection to a broker as paho's own
// dialer does (tcp:// and mqtt:// through ALL_PROXY when it is set;
// ssl://, tls://, mqtts:// and tcps:// with the client's TLS settings;
// ws:// and wss://), and reads it through a buffer. paho reads each packet
// with at least three reads (the header byte, each length byte, the
// body): on a bare connection each is a system call, which was a third of
// the bridge's CPU time under a stream of messages.
func dialBroker(uri *url.URL, o mqtt.ClientOptions) (net.Conn, error) {
	d := o.Dialer
	if d == nil {
		d = &net.Dialer{Timeout: o.ConnectTimeout}
	}
	var c net.Conn
	var err error
	switch uri.Scheme {
	case "tcp", "mqtt":
		c, err = proxy.FromEnvironmentUsing(d).Dial("tcp", uri.Host)
	case "ssl", "tls", "mqtts", "tcps":
		c, err = dialTLS(d, uri.Host, o.TLSConfig)
	case "ws", "wss":
		u := *uri
		u.User = nil // as paho: the websocket dialer refuses user info
		var tc *tls.Config
		if uri.Scheme == "wss" {
			tc = o.TLSConfig
		}
		c, err = mqtt.NewWebsocket(u.String(), tc, o.ConnectTimeout, o.HTTPHeaders, o.WebsocketOptions)
	default:
		return nil, fmt.Errorf("mqttbridge: unknown scheme %q in %s", uri.Scheme, uri.Redacted())
	}
	if err != nil {
		return nil, err
	}
	return &bufferedConn{Conn: c, r: bufio.NewReaderSize(c, readBufferSize)}, nil
}

// dialTLS dials a TLS connection, through ALL_PROXY when it is set.
func dialTLS(d *net.Dialer, host string, tc *tls.Config) (net.Conn, error) {
	if os.Getenv("all_proxy") == "" && os.Getenv("ALL_PROXY") == "" {
		return tls.DialWithDialer(d, "tcp", host, tc)
	}
	raw, err := proxy.FromEnvironmentUsing(d).Dial("tcp", host)
	if err != nil {
		return nil, err
	}
	c := tls.Client(raw, tc)
	if err := c.Handshake(); err != nil {
		_ = raw.Close()
		return nil, err
	}
	return c, nil
}

// bufferedConn is a connection read through a buffer. paho reads from a
// single goroutine, so the buffer needs no lock. (Writes stay direct:
// queueing paho's per-packet writes for a goroutine that writes them in
// batches measured no gain.)
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

// Read reads from the buffer.
func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
