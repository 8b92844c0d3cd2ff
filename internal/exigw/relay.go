package exigw

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/xiot/xiot/exi"
	"github.com/xiot/xiot/internal/xmpp"
)

// errBudget reports an element larger than MaxStanzaBytes.
var errBudget = errors.New("element too large")

// budget limits the bytes read for one element.
type budget struct {
	r    io.Reader
	left int64
}

func (b *budget) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, errBudget
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}

// event kinds read from the device.
const (
	evElement = iota
	evStreamStart
	evStreamEnd
)

// relay is one device connection and its upstream connection.
type relay struct {
	g   *Gateway
	alt bool

	// device side
	raw    net.Conn // the accepted connection
	dconn  net.Conn // raw or its TLS server side, counted
	dcc    *countConn
	dbud   *budget
	dbr    *bufio.Reader
	dxml   *xml.Decoder
	dexi   *xmpp.EXIReader
	dwmu   sync.Mutex
	dw     *xmpp.EXIWriter // non-nil when writing EXI to the device
	dhdr   bool            // next streamStart to the device carries the EXI header
	secure bool
	params *xmpp.EXIParams // agreed setup (negotiated form)

	// upstream side
	uraw  net.Conn
	uconn net.Conn
	ubud  *budget
	ubr   *bufio.Reader
	uxml  *xml.Decoder
	uwmu  sync.Mutex

	feats *xmpp.Element // the upstream's latest stream features
	id    string
	to    string

	// upstream elements read but not yet written to the device: a burst
	// of them (a stanza and the stream-management request after it) goes
	// to the device in one write, one TLS record (guarded by pmu)
	pmu     sync.Mutex
	pending []*xmpp.Element
	pflush  *time.Timer

	closeOnce sync.Once
}

func newRelay(g *Gateway, c net.Conn, alt bool) *relay {
	r := &relay{g: g, raw: c, alt: alt}
	r.setDeviceConn(c)
	return r
}

func (r *relay) max() int64 { return r.g.cfg.MaxStanzaBytes }

// setDeviceConn starts reading the device from c (after accept or TLS).
func (r *relay) setDeviceConn(c net.Conn) {
	// The idle timeout starts after the handshake, which has its own
	// deadline.
	r.dcc = &countConn{Conn: c, in: &r.g.devIn, out: &r.g.devOut}
	r.dconn = r.dcc
	r.dbud = &budget{r: r.dconn, left: r.max() + 8192}
	r.dbr = bufio.NewReader(r.dbud)
	r.dxml = xml.NewDecoder(r.dbr)
	r.dxml.Strict = true
	if r.dexi != nil || r.alt {
		r.dexi = xmpp.NewEXIReader(r.dbr, r.exiReadOptions())
	}
}

// exiReadOptions are the options to read the next device body with.
func (r *relay) exiReadOptions() exi.Options {
	var o exi.Options
	if r.params != nil {
		o, _ = r.params.Options(r.g.cfg.Schemas, r.max())
	} else {
		o, _ = xmpp.EXIParams{ValueMaxLength: 64, ValuePartitionCapacity: 64}.Options(r.g.cfg.Schemas, r.max())
	}
	if r.alt {
		// The alternative binding takes its options from the headers of
		// its streamStart bodies, which cannot carry sessionWideBuffers.
		o.SessionWideBuffers = false
	}
	return o
}

func (r *relay) closeAll() {
	r.closeOnce.Do(func() {
		r.raw.Close()
		if r.uraw != nil {
			r.uraw.Close()
		}
	})
}

// run serves the connection until one side ends it.
func (r *relay) run(ctx context.Context) error {
	defer r.closeAll()
	_ = r.raw.SetDeadline(timeNow().Add(r.g.cfg.HandshakeTimeout))
	err := r.handshake(ctx)
	if err != nil {
		r.failDevice(err)
		return err
	}
	_ = r.raw.SetWriteDeadline(zeroTime)
	if r.uraw != nil {
		_ = r.uraw.SetDeadline(zeroTime)
	}
	upDone := make(chan error, 1)
	go func() { upDone <- r.pumpUp() }()
	err = r.pumpDevice()
	if err != nil {
		r.failDevice(err)
	}
	r.closeAll()
	uerr := <-upDone
	var se *xmpp.StreamError
	switch {
	case errors.As(err, &se):
		return err // bad input from the device
	case errors.Is(uerr, io.EOF), errors.Is(err, io.EOF):
		return nil // one side ended its stream; the other was closed after it
	case err == nil && uerr != nil && !errors.Is(uerr, net.ErrClosed):
		return uerr
	}
	return err
}

// failDevice sends the stream error for err to the device, when err is one.
func (r *relay) failDevice(err error) {
	var se *xmpp.StreamError
	if !errors.As(err, &se) {
		return
	}
	r.g.log.Info("stream error toward device", "remote", r.raw.RemoteAddr(), "condition", se.Condition, "text", se.Text)
	r.dwmu.Lock()
	if r.alt && r.dw == nil {
		// Bad input before any streamStart: answer in the default EXI
		// options, as the device expects EXI.
		r.dw = xmpp.NewEXIWriter(r.exiReadOptions(), xmpp.NSClient)
	}
	r.dwmu.Unlock()
	_ = r.writeDevice(se.Element())
	r.writeDeviceEnd()
	if r.uconn != nil {
		r.uwmu.Lock()
		_, _ = r.uconn.Write([]byte("</stream:stream>"))
		r.uwmu.Unlock()
	}
	// Half-close and drain a little of what the device still sends, so
	// that the error reaches it rather than a reset.
	if tc, ok := r.raw.(interface{ CloseWrite() error }); ok && !r.secure {
		_ = tc.CloseWrite()
	}
	_ = r.raw.SetReadDeadline(timeNow().Add(500 * time.Millisecond))
	_, _ = io.CopyN(io.Discard, r.raw, 64<<10)
}

// handshake takes the device through stream start, STARTTLS and SASL, with
// the upstream server doing the same behind it.
func (r *relay) handshake(ctx context.Context) error {
	ev, el, err := r.readDevice()
	if err != nil {
		return err
	}
	if ev != evStreamStart {
		return &xmpp.StreamError{Condition: "invalid-xml", Text: "expected a stream header"}
	}
	if r.to = el.Get("to"); r.to == "" {
		return &xmpp.StreamError{Condition: "host-unknown", Text: "no 'to' in the stream header"}
	}
	if err := r.dialUpstream(ctx); err != nil {
		r.g.log.Warn("upstream connection failed", "upstream", r.g.cfg.Upstream, "err", err)
		return &xmpp.StreamError{Condition: "remote-connection-failed", Text: "upstream server unavailable"}
	}
	if r.g.cfg.TLS != nil {
		feats := xmpp.NewElement(xmpp.NSStream, "features").Add(xmpp.NewElement(xmpp.NSTLS, "starttls").Add(xmpp.NewElement(xmpp.NSTLS, "required")))
		if err := r.writeDeviceHeader(feats); err != nil {
			return err
		}
		ev, el, err := r.readDevice()
		if err != nil {
			return err
		}
		if ev != evElement || el.Name.Space != xmpp.NSTLS || el.Name.Local != "starttls" {
			return &xmpp.StreamError{Condition: "policy-violation", Text: "STARTTLS required"}
		}
		if err := r.writeDevice(xmpp.NewElement(xmpp.NSTLS, "proceed")); err != nil {
			return err
		}
		tc := tls.Server(r.raw, r.g.cfg.TLS)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("TLS with device: %w", err)
		}
		r.secure = true
		r.setDeviceConn(tc)
		if err := r.expectDeviceStart(); err != nil {
			return err
		}
	}
	if err := r.writeDeviceHeader(r.deviceFeatures(false)); err != nil {
		return err
	}
	// SASL, relayed element by element until the server says success.
	for {
		ev, el, err := r.readDevice()
		if err != nil {
			return err
		}
		if ev == evStreamEnd {
			return io.EOF
		}
		if ev != evElement || el.Name.Space != xmpp.NSSASL {
			return &xmpp.StreamError{Condition: "not-authorized", Text: "authenticate first"}
		}
		if err := r.writeUp(el); err != nil {
			return err
		}
		resp, err := r.readUp()
		if err != nil {
			return err
		}
		if err := r.writeDevice(resp); err != nil {
			return err
		}
		if resp.Name.Space == xmpp.NSSASL && resp.Name.Local == "success" {
			break
		}
	}
	// Both streams restart after SASL.
	if err := r.openUpstream(); err != nil {
		return err
	}
	if err := r.expectDeviceStart(); err != nil {
		return err
	}
	return r.writeDeviceHeader(r.deviceFeatures(!r.alt && r.dw == nil))
}

// expectDeviceStart reads the device's stream restart.
func (r *relay) expectDeviceStart() error {
	if r.dexi == nil {
		r.dxml = xml.NewDecoder(r.dbr)
		r.dxml.Strict = true
	}
	ev, _, err := r.readDevice()
	if err != nil {
		return err
	}
	if ev != evStreamStart {
		return &xmpp.StreamError{Condition: "invalid-xml", Text: "expected a stream restart"}
	}
	return nil
}

// deviceFeatures returns the upstream features as offered to the device:
// without STARTTLS (done with the gateway), without channel binding, and
// with the XEP-0322 compression method when offerEXI.
func (r *relay) deviceFeatures(offerEXI bool) *xmpp.Element {
	out := xmpp.NewElement(xmpp.NSStream, "features")
	for _, c := range r.feats.Children() {
		switch {
		case c.Name.Space == xmpp.NSTLS:
			continue
		case c.Name.Space == xmpp.NSCompressFeature:
			continue
		case c.Name.Space == xmpp.NSSASL && c.Name.Local == "mechanisms":
			m := xmpp.NewElement(xmpp.NSSASL, "mechanisms")
			for _, mech := range c.Children() {
				if !strings.HasSuffix(mech.Text(), "-PLUS") {
					m.Add(mech)
				}
			}
			out.Add(m)
		default:
			out.Add(c)
		}
	}
	if offerEXI {
		comp := xmpp.NewElement(xmpp.NSCompressFeature, "compression").Add(xmpp.NewElement(xmpp.NSCompressFeature, "method").AddText("exi"))
		if r.g.cfg.AltPort > 0 {
			comp.Add(xmpp.NewElement(xmpp.NSCompressFeature, "method").AddText(fmt.Sprintf("exi:%d", r.g.cfg.AltPort)))
		}
		out.Add(comp)
	}
	return out
}

// pumpDevice relays device elements upstream, answering XEP-0322
// negotiation itself.
func (r *relay) pumpDevice() error {
	_ = r.raw.SetDeadline(zeroTime)
	r.dcc.idle = r.g.cfg.IdleTimeout
	for {
		ev, el, err := r.readDevice()
		if err != nil {
			return err
		}
		switch ev {
		case evStreamEnd:
			r.uwmu.Lock()
			_, _ = r.uconn.Write([]byte("</stream:stream>"))
			r.uwmu.Unlock()
			return io.EOF
		case evStreamStart:
			return &xmpp.StreamError{Condition: "invalid-xml", Text: "unexpected stream restart"}
		}
		if el.Name.Space == xmpp.NSEXI || el.Name.Space == xmpp.NSCompress {
			if err := r.handleEXI(el); err != nil {
				return err
			}
			continue
		}
		if err := r.writeUp(el); err != nil {
			return err
		}
	}
}

// handleEXI answers setup, uploadSchema and compress.
func (r *relay) handleEXI(el *xmpp.Element) error {
	switch {
	case xmpp.IsEXI(el, "setup"):
		p, err := xmpp.ParseEXIParams(el)
		if id := el.Get("configurationId"); err == nil && id != "" {
			// Quick configuration: a setup agreed before, by its ID.
			if known, ok := r.g.recall(id); ok {
				r.params = &known
				return r.writeDevice(xmpp.EXIParams{Agreement: true, ConfigurationID: id}.Element("setupResponse"))
			}
			r.params = nil
			return r.writeDevice(xmpp.EXIParams{ConfigurationID: id}.Element("setupResponse"))
		}
		if err != nil || el.Get("configurationLocation") != "" || r.g.refuseSWB && p.SessionWideBuffers {
			// Options we do not support, and configuration locations: no
			// agreement; the device proposes again or stays in XML.
			r.params = nil
			return r.writeDevice(xmpp.EXIParams{}.Element("setupResponse"))
		}
		resp := p
		resp.Schemas, resp.Missing = nil, nil
		// sessionWideBuffers is accepted on the negotiated binding, whose
		// stream keeps its options after <compressed/>; the alternative
		// binding restarts with options from an EXI header, which has no
		// place for it.
		resp.SessionWideBuffers = p.SessionWideBuffers && !r.alt && !r.g.cfg.NoSessionWideBuffers
		for _, sc := range p.Schemas {
			if h, ok := r.g.cfg.Schemas.Lookup(sc); ok {
				resp.Schemas = append(resp.Schemas, h)
			} else {
				resp.Missing = append(resp.Missing, sc)
			}
		}
		resp.Agreement = len(resp.Missing) == 0
		if resp.Agreement && len(resp.Schemas) > 0 {
			if _, err := r.g.cfg.Schemas.Grammars(resp.Schemas); err != nil {
				r.g.log.Warn("canonical schema does not compile", "err", err)
				resp.Agreement = false
			}
		}
		if resp.Agreement {
			resp.ConfigurationID = r.g.remember(resp)
			r.params = &resp
		} else {
			r.params = nil
		}
		return r.writeDevice(resp.Element("setupResponse"))
	case xmpp.IsEXI(el, "uploadSchema"):
		if ct := el.Get("contentType"); ct != "" && ct != "Text" {
			r.g.log.Info("uploaded schema ignored: only contentType Text is supported", "contentType", ct)
			return nil
		}
		data, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(el.Text()), ""))
		if err != nil {
			return &xmpp.StreamError{Condition: "bad-format", Text: "uploadSchema: bad base64"}
		}
		sc, err := r.g.cfg.Schemas.Add(data)
		if err != nil {
			r.g.log.Info("uploaded schema refused", "err", err)
			return nil
		}
		r.g.log.Info("schema uploaded", "ns", sc.NS, "bytes", sc.Bytes, "md5", sc.MD5)
		return nil
	case el.Name.Space == xmpp.NSCompress && el.Name.Local == "compress":
		method := ""
		if m := el.Child(xmpp.NSCompress, "method"); m != nil {
			method = m.Text()
		}
		if method != "exi" {
			return r.writeDevice(xmpp.NewElement(xmpp.NSCompress, "failure").Add(xmpp.NewElement(xmpp.NSCompress, "unsupported-method")))
		}
		if r.params == nil || r.dw != nil {
			return r.writeDevice(xmpp.NewElement(xmpp.NSCompress, "failure").Add(xmpp.NewElement(xmpp.NSCompress, "setup-failed")))
		}
		opts, err := r.params.Options(r.g.cfg.Schemas, r.max())
		if err != nil {
			return r.writeDevice(xmpp.NewElement(xmpp.NSCompress, "failure").Add(xmpp.NewElement(xmpp.NSCompress, "setup-failed")))
		}
		// Switch under the write lock, so that nothing from upstream
		// reaches the device between <compressed/> and our streamStart.
		r.dwmu.Lock()
		defer r.dwmu.Unlock()
		var b bytes.Buffer
		xmpp.NewElement(xmpp.NSCompress, "compressed").WriteXML(&b, xmpp.NSClient)
		if _, err := r.dconn.Write(b.Bytes()); err != nil {
			return err
		}
		r.dw = xmpp.NewEXIWriter(opts, xmpp.NSClient)
		r.dexi = xmpp.NewEXIReader(r.dbr, opts)
		r.g.exiStreams.Add(1)
		ev, _, err := r.readDevice()
		if err != nil {
			return err
		}
		if ev != evStreamStart {
			return &xmpp.StreamError{Condition: "invalid-xml", Text: "expected EXI streamStart after compressed"}
		}
		return r.writeDeviceHeaderLocked(r.deviceFeatures(false))
	case el.Name.Space == xmpp.NSEXI && el.Name.Local == "downloadSchema":
		ctx, cancel := context.WithTimeout(context.Background(), r.g.cfg.DownloadTimeout)
		defer cancel()
		return r.writeDevice(r.g.downloadSchema(ctx, el.Get("url")))
	}
	return &xmpp.StreamError{Condition: "unsupported-stanza-type", Text: "unexpected " + el.Name.Local}
}

// pumpUp relays upstream elements to the device. Elements that arrive
// together (already buffered behind the one just read) are written to the
// device together, so that a constrained link carries one TLS record and
// one packet instead of several; a held element waits at most
// coalesceDelay should the next one arrive incomplete.
func (r *relay) pumpUp() error {
	for {
		el, err := r.readUp()
		if err != nil {
			if errors.Is(err, io.EOF) {
				_ = r.flushUp()
				r.writeDeviceEnd()
				r.closeAll()
			}
			return err
		}
		r.pmu.Lock()
		r.pending = append(r.pending, el)
		hold := r.ubr.Buffered() > 0 && len(r.pending) < maxCoalesce
		if hold && r.pflush == nil {
			r.pflush = time.AfterFunc(coalesceDelay, func() { _ = r.flushUp() })
		}
		r.pmu.Unlock()
		if hold {
			continue
		}
		if err := r.flushUp(); err != nil {
			return err
		}
	}
}

// Coalescing of upstream elements: at most maxCoalesce per write, held at
// most coalesceDelay.
const (
	maxCoalesce   = 16
	coalesceDelay = 2 * time.Millisecond
)

// flushUp writes the pending upstream elements to the device.
func (r *relay) flushUp() error {
	r.pmu.Lock()
	defer r.pmu.Unlock()
	if r.pflush != nil {
		r.pflush.Stop()
		r.pflush = nil
	}
	if len(r.pending) == 0 {
		return nil
	}
	els := r.pending
	r.pending = nil
	if err := r.writeDevice(els...); err != nil {
		// An element the device's encoding cannot carry (or a lost
		// link) ends the relay rather than leave the device without
		// the server's stanzas; with sessionWideBuffers no later
		// element could be encoded anyway.
		r.g.log.Info("cannot write to device; closing", "remote", r.raw.RemoteAddr(), "err", err)
		r.closeAll()
		return err
	}
	return nil
}
