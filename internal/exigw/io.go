package exigw

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/xiot/xiot/internal/xmpp"
)

var zeroTime time.Time

func timeNow() time.Time { return time.Now() }

// readDevice reads the next event from the device, in XML or EXI.
func (r *relay) readDevice() (int, *xmpp.Element, error) {
	r.dbud.left = r.max() + 8192
	if r.dexi != nil {
		el, opts, err := r.dexi.Next()
		if err != nil {
			return 0, nil, deviceErr(err)
		}
		switch {
		case xmpp.IsEXI(el, "streamStart"):
			if r.alt {
				// Alternative binding: the options of the stream come in
				// the header of its streamStart; answer with the same.
				r.dwmu.Lock()
				if r.dw == nil {
					r.g.exiStreams.Add(1)
				}
				opts.SessionWideBuffers = false // not in an EXI header
				r.dw = xmpp.NewEXIWriter(opts, xmpp.NSClient)
				r.dhdr = true
				r.dwmu.Unlock()
				r.dexi.SetOptions(opts)
			}
			return evStreamStart, el, nil
		case xmpp.IsEXI(el, "streamEnd"):
			return evStreamEnd, el, nil
		}
		return evElement, el, nil
	}
	for {
		tok, err := r.dxml.Token()
		if err != nil {
			return 0, nil, deviceErr(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Space == xmpp.NSStream && t.Name.Local == "stream" {
				return evStreamStart, &xmpp.Element{Name: t.Name, Attr: t.Attr}, nil
			}
			el, err := xmpp.ReadElement(r.dxml, t, xmpp.Limits{MaxDepth: 64})
			if err != nil {
				return 0, nil, deviceErr(err)
			}
			return evElement, el, nil
		case xml.EndElement:
			return evStreamEnd, nil, nil
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return 0, nil, &xmpp.StreamError{Condition: "not-well-formed", Text: "text between stanzas"}
			}
		case xml.ProcInst:
			if t.Target != "xml" {
				return 0, nil, &xmpp.StreamError{Condition: "restricted-xml"}
			}
		default:
			return 0, nil, &xmpp.StreamError{Condition: "restricted-xml"}
		}
	}
}

// deviceErr maps a read error from the device to the stream error to send,
// or leaves an I/O error as it is.
func deviceErr(err error) error {
	var se *xmpp.StreamError
	var syn *xml.SyntaxError
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return &xmpp.StreamError{Condition: "connection-timeout", Text: "the device sent nothing in time"}
	case errors.Is(err, errBudget):
		return &xmpp.StreamError{Condition: "policy-violation", Text: "element too large"}
	case errors.As(err, &se):
		return se
	case errors.Is(err, xmpp.ErrTooDeep):
		return &xmpp.StreamError{Condition: "policy-violation", Text: "elements nested too deeply"}
	case errors.Is(err, xmpp.ErrRestrictedXML):
		return &xmpp.StreamError{Condition: "restricted-xml"}
	case errors.As(err, &syn):
		return &xmpp.StreamError{Condition: "not-well-formed", Text: syn.Msg}
	}
	return err
}

// writeDevice writes elements to the device in its current encoding.
func (r *relay) writeDevice(els ...*xmpp.Element) error {
	r.dwmu.Lock()
	defer r.dwmu.Unlock()
	return r.writeDeviceLocked(els...)
}

func (r *relay) writeDeviceLocked(els ...*xmpp.Element) error {
	var b bytes.Buffer
	for _, el := range els {
		if r.dw != nil {
			if err := r.dw.Append(&b, el, false); err != nil {
				return fmt.Errorf("encode for device: %w", err)
			}
		} else {
			el.WriteXML(&b, xmpp.NSClient)
		}
	}
	_, err := r.dconn.Write(b.Bytes())
	return err
}

// writeDeviceHeader opens (or reopens) the device's stream with feats.
func (r *relay) writeDeviceHeader(feats *xmpp.Element) error {
	r.dwmu.Lock()
	defer r.dwmu.Unlock()
	return r.writeDeviceHeaderLocked(feats)
}

func (r *relay) writeDeviceHeaderLocked(feats *xmpp.Element) error {
	if r.dw == nil {
		hdr := fmt.Sprintf(`<?xml version='1.0'?><stream:stream xmlns='%s' xmlns:stream='%s' from='%s' id='%s' version='1.0' xml:lang='en'>`,
			xmpp.NSClient, xmpp.NSStream, xmlEscape(r.to), xmlEscape(r.id))
		var b bytes.Buffer
		b.WriteString(hdr)
		feats.WriteXML(&b, xmpp.NSClient)
		_, err := r.dconn.Write(b.Bytes())
		return err
	}
	var b bytes.Buffer
	start := xmpp.EXIStreamStart(xmpp.NSClient, "from", r.to, "id", r.id, "version", "1.0")
	if err := r.dw.Append(&b, start, r.dhdr); err != nil {
		return fmt.Errorf("encode streamStart: %w", err)
	}
	if err := r.dw.Append(&b, feats, false); err != nil {
		return fmt.Errorf("encode features: %w", err)
	}
	_, err := r.dconn.Write(b.Bytes())
	return err
}

// writeDeviceEnd closes the device's stream.
func (r *relay) writeDeviceEnd() {
	r.dwmu.Lock()
	defer r.dwmu.Unlock()
	if r.dw != nil {
		_ = r.writeDeviceLocked(xmpp.NewElement(xmpp.NSEXI, "streamEnd"))
		return
	}
	_, _ = r.dconn.Write([]byte("</stream:stream>"))
}

func xmlEscape(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// dialUpstream connects to the server, STARTTLS with verification, and
// reads the features of the secured stream.
func (r *relay) dialUpstream(ctx context.Context) error {
	dial := r.g.cfg.Dial
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	c, err := dial(ctx, "tcp", r.g.cfg.Upstream)
	if err != nil {
		return err
	}
	r.uraw = c
	_ = c.SetDeadline(time.Now().Add(r.g.cfg.HandshakeTimeout))
	r.uconn = &countConn{Conn: c, in: &r.g.upIn, out: &r.g.upOut}
	if err := r.openUpstream(); err != nil {
		return err
	}
	if r.feats.Child(xmpp.NSTLS, "starttls") == nil {
		return errors.New("upstream server offers no STARTTLS")
	}
	if err := r.writeUp(xmpp.NewElement(xmpp.NSTLS, "starttls")); err != nil {
		return err
	}
	el, err := r.readUp()
	if err != nil {
		return err
	}
	if el.Name.Local != "proceed" {
		return fmt.Errorf("upstream refused STARTTLS (%s)", el.Name.Local)
	}
	var cfg *tls.Config
	if r.g.cfg.UpstreamTLS != nil {
		cfg = r.g.cfg.UpstreamTLS.Clone()
	} else {
		cfg = &tls.Config{}
	}
	if cfg.ServerName == "" {
		cfg.ServerName = r.to
	}
	if cfg.MinVersion == 0 {
		cfg.MinVersion = tls.VersionTLS12
	}
	tc := tls.Client(c, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("TLS with upstream: %w", err)
	}
	r.uconn = &countConn{Conn: tc, in: &r.g.upIn, out: &r.g.upOut}
	return r.openUpstream()
}

// openUpstream sends a stream header upstream and reads the server's
// header and features.
func (r *relay) openUpstream() error {
	r.ubud = &budget{r: r.uconn, left: r.max() + 8192}
	r.ubr = bufio.NewReader(r.ubud)
	r.uxml = xml.NewDecoder(r.ubr)
	hdr := fmt.Sprintf(`<?xml version='1.0'?><stream:stream xmlns='%s' xmlns:stream='%s' to='%s' version='1.0' xml:lang='en'>`,
		xmpp.NSClient, xmpp.NSStream, xmlEscape(r.to))
	r.uwmu.Lock()
	_, err := r.uconn.Write([]byte(hdr))
	r.uwmu.Unlock()
	if err != nil {
		return err
	}
	for {
		tok, err := r.uxml.Token()
		if err != nil {
			return fmt.Errorf("upstream stream header: %w", err)
		}
		if t, ok := tok.(xml.StartElement); ok {
			if t.Name.Space != xmpp.NSStream || t.Name.Local != "stream" {
				return fmt.Errorf("upstream sent <%s> instead of a stream header", t.Name.Local)
			}
			for _, a := range t.Attr {
				if a.Name.Local == "id" && a.Name.Space == "" {
					r.id = a.Value
				}
			}
			break
		}
	}
	el, err := r.readUp()
	if err != nil {
		return err
	}
	if el.Name.Space != xmpp.NSStream || el.Name.Local != "features" {
		return fmt.Errorf("upstream sent <%s> instead of stream features", el.Name.Local)
	}
	r.feats = el
	return nil
}

// readUp reads the next element from the server; io.EOF at its stream end.
func (r *relay) readUp() (*xmpp.Element, error) {
	for {
		r.ubud.left = r.max() + 8192
		tok, err := r.uxml.Token()
		if err != nil {
			if errors.Is(err, errBudget) {
				return nil, fmt.Errorf("upstream element larger than %d bytes", r.max())
			}
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return xmpp.ReadElement(r.uxml, t, xmpp.Limits{MaxDepth: 64})
		case xml.EndElement:
			return nil, io.EOF
		}
	}
}

// writeUp writes one element to the server.
func (r *relay) writeUp(el *xmpp.Element) error {
	var b bytes.Buffer
	el.WriteXML(&b, xmpp.NSClient)
	r.uwmu.Lock()
	defer r.uwmu.Unlock()
	_, err := r.uconn.Write(b.Bytes())
	return err
}
