package xmpp

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// writeTimeout bounds one write to the network: a link that accepts no data
// for this long is treated as dead.
const writeTimeout = 30 * time.Second

// stream is one XML stream over one network connection: the stream header,
// then one top-level element at a time.
type stream struct {
	conn    net.Conn
	budget  *budgetReader
	dec     *xml.Decoder
	ns      string // default namespace of stanzas: jabber:client or jabber:component:accept
	id      string // stream id from the server's header
	max     int64  // largest stanza accepted, in bytes
	depth   int
	wmu     sync.Mutex
	closed  bool
	lastIn  time.Time // time of the last byte read (guarded by wmu)
	onWrite func(n int)
	onRead  func(n int) // bytes read from the network (TLS records' payload)
	x       *exiStream  // non-nil once the stream speaks EXI (XEP-0322)
}

// budgetReader stops reading when a stanza grows beyond its budget, so that
// an oversized stanza costs bounded memory before it is refused.
type budgetReader struct {
	r      io.Reader
	left   int64
	n      int64 // bytes read in total
	err    error // the last error of the network connection
	onRead func(n int)
}

var errBudget = errors.New("stanza too large")

func (b *budgetReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, errBudget
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	if err != nil {
		b.err = err
	}
	b.left -= int64(n)
	b.n += int64(n)
	if n > 0 && b.onRead != nil {
		b.onRead(n)
	}
	return n, err
}

func newStream(conn net.Conn, ns string, max int64) *stream {
	if max <= 0 {
		max = 256 << 10
	}
	s := &stream{conn: conn, ns: ns, max: max, depth: 64, lastIn: time.Now()}
	s.reset()
	return s
}

// reset starts a new XML parser over the connection, as RFC 6120 asks after
// STARTTLS and SASL.
func (s *stream) reset() {
	s.budget = &budgetReader{r: s.conn, left: s.max + 8192, onRead: s.touch}
	s.dec = xml.NewDecoder(s.budget)
	s.dec.Strict = true
	if s.x != nil {
		s.x.r = NewEXIReader(s.budget, s.x.opts)
	}
}

func (s *stream) touch(n int) {
	s.wmu.Lock()
	s.lastIn = time.Now()
	s.wmu.Unlock()
	if s.onRead != nil {
		s.onRead(n)
	}
}

func (s *stream) idle() time.Duration {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return time.Since(s.lastIn)
}

// open writes our stream header and reads the peer's, then (for version 1.0
// streams) the stream features.
func (s *stream) open(to string, wantFeatures bool) (*Element, error) {
	if s.x != nil {
		return s.openEXI(to, wantFeatures)
	}
	version := " version='1.0'"
	if !wantFeatures {
		version = "" // XEP-0114 streams have no features
	}
	hdr := fmt.Sprintf(`<?xml version='1.0'?><stream:stream xmlns='%s' xmlns:stream='%s' to='%s'%s xml:lang='en'>`,
		s.ns, NSStream, xmlEscape(to), version)
	if err := s.writeRaw([]byte(hdr)); err != nil {
		return nil, err
	}
	for {
		tok, err := s.dec.Token()
		if err != nil {
			return nil, s.readErr(err)
		}
		switch t := tok.(type) {
		case xml.ProcInst, xml.CharData:
			continue
		case xml.StartElement:
			if t.Name.Space != NSStream || t.Name.Local != "stream" {
				if t.Name.Space == NSStream && t.Name.Local == "error" {
					el, err := ReadElement(s.dec, t, Limits{MaxDepth: s.depth})
					if err != nil {
						return nil, s.readErr(err)
					}
					return nil, parseStreamError(el)
				}
				return nil, &StreamError{Condition: "invalid-namespace", Text: fmt.Sprintf("expected stream header, got {%s}%s", t.Name.Space, t.Name.Local)}
			}
			for _, a := range t.Attr {
				if a.Name.Local == "id" && a.Name.Space == "" {
					s.id = a.Value
				}
			}
			if !wantFeatures {
				return nil, nil
			}
			el, err := s.next()
			if err != nil {
				return nil, err
			}
			if el.Name.Space != NSStream || el.Name.Local != "features" {
				return nil, &StreamError{Condition: "invalid-xml", Text: "expected stream features, got " + el.Name.Local}
			}
			return el, nil
		default:
			return nil, &StreamError{Condition: "restricted-xml"}
		}
	}
}

// next reads the next top-level element. A stream error from the peer is
// returned as *StreamError with remote set; input that breaks the rules is
// returned as a *StreamError for us to send.
func (s *stream) next() (*Element, error) {
	if s.x != nil {
		return s.nextEXI()
	}
	for {
		s.budget.left = s.max + 8192
		startOff := s.dec.InputOffset()
		tok, err := s.dec.Token()
		if err != nil {
			return nil, s.readErr(err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return nil, &StreamError{Condition: "not-well-formed", Text: "text between stanzas"}
			}
			continue // whitespace keepalive
		case xml.EndElement:
			return nil, io.EOF // </stream:stream>
		case xml.StartElement:
			el, err := ReadElement(s.dec, t, Limits{MaxDepth: s.depth})
			if err != nil {
				return nil, s.readErr(err)
			}
			if size := s.dec.InputOffset() - startOff; size > s.max {
				return nil, &StreamError{Condition: "policy-violation", Text: fmt.Sprintf("stanza of %d bytes exceeds the limit of %d", size, s.max)}
			}
			if el.Name.Space == NSStream && el.Name.Local == "error" {
				return nil, &remoteStreamError{parseStreamError(el)}
			}
			return el, nil
		default:
			return nil, &StreamError{Condition: "restricted-xml", Text: "comments, processing instructions and DTDs are not allowed"}
		}
	}
}

// remoteStreamError wraps a stream error the peer sent us.
type remoteStreamError struct{ *StreamError }

func (e *remoteStreamError) Error() string { return "server sent " + e.StreamError.Error() }
func (e *remoteStreamError) Unwrap() error { return e.StreamError }

// readErr maps parser and I/O errors to what the stream should do about them.
func (s *stream) readErr(err error) error {
	var se *StreamError
	var syn *xml.SyntaxError
	if ioErr := s.budget.err; ioErr != nil && !errors.Is(err, errBudget) {
		// The connection ended, perhaps in the middle of an element: that
		// is a lost link, not bad XML, and the stream may be resumed.
		if ioErr == io.EOF {
			return io.ErrUnexpectedEOF
		}
		return ioErr
	}
	switch {
	case errors.As(err, &se):
		return se
	case errors.Is(err, errBudget):
		return &StreamError{Condition: "policy-violation", Text: fmt.Sprintf("stanza exceeds the limit of %d bytes", s.max)}
	case errors.Is(err, ErrRestrictedXML):
		return &StreamError{Condition: "restricted-xml", Text: "comments, processing instructions and DTDs are not allowed"}
	case errors.Is(err, ErrTooDeep):
		return &StreamError{Condition: "policy-violation", Text: fmt.Sprintf("elements nested deeper than %d", s.depth)}
	case errors.As(err, &syn):
		return &StreamError{Condition: "not-well-formed", Text: syn.Msg}
	}
	return err
}

// writeRaw writes data in one write with a deadline.
func (s *stream) writeRaw(data []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed {
		return net.ErrClosed
	}
	_ = s.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	n, err := s.conn.Write(data)
	if s.onWrite != nil {
		s.onWrite(n)
	}
	return err
}

// writeElements serializes elements and writes them in one write.
func (s *stream) writeElements(els ...*Element) error {
	if s.x != nil {
		return s.writeEXI(false, els...)
	}
	var b bytes.Buffer
	for _, el := range els {
		el.WriteXML(&b, s.ns)
	}
	return s.writeRaw(b.Bytes())
}

// fail sends a stream error and closes the stream.
func (s *stream) fail(se *StreamError) {
	if s.x != nil {
		_ = s.writeEXI(false, se.element(), NewElement(NSEXI, "streamEnd"))
		s.close()
		return
	}
	var b bytes.Buffer
	se.element().WriteXML(&b, s.ns)
	b.WriteString("</stream:stream>")
	_ = s.writeRaw(b.Bytes())
	s.close()
}

// closeGracefully ends the stream with </stream:stream> and closes.
func (s *stream) closeGracefully() {
	if s.x != nil {
		_ = s.writeEXI(false, NewElement(NSEXI, "streamEnd"))
		s.close()
		return
	}
	_ = s.writeRaw([]byte("</stream:stream>"))
	s.close()
}

func (s *stream) close() {
	s.wmu.Lock()
	s.closed = true
	s.wmu.Unlock()
	_ = s.conn.Close()
}

func xmlEscape(v string) string {
	var b bytes.Buffer
	escapeAttr(&b, v)
	return b.String()
}
