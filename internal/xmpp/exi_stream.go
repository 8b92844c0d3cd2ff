package xmpp

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"time"

	"github.com/xiot/xiot/exi"
	"github.com/xiot/xiot/exi/xmppschema"
	"github.com/xiot/xiot/internal/atomicfile"
)

// ErrNoEXI reports a server that does not speak EXI where the alternative
// binding was asked for.
var ErrNoEXI = errors.New("xmpp: no EXI on this port")

// exiStream is the EXI side of a stream that speaks XEP-0322.
type exiStream struct {
	w    *EXIWriter
	r    *EXIReader
	opts exi.Options
	alt  bool // alternative binding: streamStart bodies carry the cookie and options
}

// useEXI switches the stream to EXI with opts in both directions.
func (s *stream) useEXI(opts exi.Options, alt bool) {
	s.x = &exiStream{w: NewEXIWriter(opts, s.ns), opts: opts, alt: alt}
	s.x.r = NewEXIReader(s.budget, opts)
}

// openEXI is open for an EXI stream: streamStart both ways, then features.
func (s *stream) openEXI(to string, wantFeatures bool) (*Element, error) {
	attrs := []string{"to", to}
	if wantFeatures {
		attrs = append(attrs, "version", "1.0")
	}
	if err := s.writeEXI(s.x.alt, EXIStreamStart(s.ns, attrs...)); err != nil {
		return nil, err
	}
	if s.x.alt && s.x.r.StartsWithXML() {
		// XEP-0322 §fallback: give up rather than retry on this port.
		return nil, fmt.Errorf("%w: the server at %s answered in XML, so it does not speak the EXI alternative binding there (use the EXI port, or EXI mode negotiate)", ErrNoEXI, s.conn.RemoteAddr())
	}
	el, err := s.nextEXI()
	if err != nil {
		return nil, err
	}
	if !IsEXI(el, "streamStart") {
		return nil, &StreamError{Condition: "invalid-xml", Text: "expected EXI streamStart, got " + el.Name.Local}
	}
	s.id = el.Get("id")
	if !wantFeatures {
		return nil, nil
	}
	el, err = s.nextEXI()
	if err != nil {
		return nil, err
	}
	if el.Name.Space != NSStream || el.Name.Local != "features" {
		return nil, &StreamError{Condition: "invalid-xml", Text: "expected stream features, got " + el.Name.Local}
	}
	return el, nil
}

// nextEXI reads the next EXI body; streamEnd is the end of the stream.
func (s *stream) nextEXI() (*Element, error) {
	s.budget.left = s.max + 8192
	el, _, err := s.x.r.Next()
	if err != nil {
		if errors.Is(err, errBudget) {
			return nil, &StreamError{Condition: "policy-violation", Text: fmt.Sprintf("stanza exceeds the limit of %d bytes", s.max)}
		}
		return nil, s.readErr(err)
	}
	switch {
	case IsEXI(el, "streamEnd"):
		return nil, io.EOF
	case el.Name.Space == NSStream && el.Name.Local == "error":
		return nil, &remoteStreamError{parseStreamError(el)}
	}
	return el, nil
}

// writeEXI encodes els as EXI bodies and writes them in one write.
func (s *stream) writeEXI(header bool, els ...*Element) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed {
		return net.ErrClosed
	}
	var b bytes.Buffer
	for _, el := range els {
		if err := s.x.w.Append(&b, el, header); err != nil {
			if s.x.opts.SessionWideBuffers {
				// The tables now hold what the peer never got: no later
				// body can be encoded, so the stream ends here and the
				// session reconnects.
				s.closed = true
				_ = s.conn.Close()
				return fmt.Errorf("%w (the stream's session-wide EXI tables are lost; connection closed)", err)
			}
			return err
		}
	}
	_ = s.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	n, err := s.conn.Write(b.Bytes())
	if s.onWrite != nil {
		s.onWrite(n)
	}
	return err
}

// startEXIAlternative prepares a fresh connection for the XEP-0322
// alternative binding: EXI from the first byte.
func (s *Session) startEXIAlternative(st *stream) error {
	set, err := s.exiSchemas()
	if err != nil {
		return err
	}
	p, err := s.cfg.EXI.Params(set)
	if err != nil {
		return err
	}
	// The options header of the alternative binding has no place for
	// sessionWideBuffers (an XMPP option, not an EXI one): its default,
	// false, applies.
	p.SessionWideBuffers = false
	opts, err := p.Options(set, st.max)
	if err != nil {
		return fmt.Errorf("EXI options: %w", err)
	}
	st.useEXI(opts, true)
	return nil
}

func (s *Session) exiSchemas() (*xmppschema.Set, error) {
	if s.cfg.EXI.Schemas != nil {
		return s.cfg.EXI.Schemas, nil
	}
	set, err := xmppschema.New()
	if err != nil {
		return nil, fmt.Errorf("EXI schemas: %w", err)
	}
	s.cfg.EXI.Schemas = set
	return set, nil
}

// negotiateEXI switches an authenticated XML stream to EXI through
// XEP-0138 compression with the XEP-0322 setup, when the server offers it.
// It returns the features of the restarted stream, or features unchanged
// when the session stays in XML.
func (s *Session) negotiateEXI(st *stream, features *Element) (*Element, error) {
	domain := s.cfg.JID.Domainpart()
	offered := false
	if comp := features.Child(NSCompressFeature, "compression"); comp != nil {
		for _, m := range comp.Children() {
			if m.Name.Local == "method" && m.Text() == "exi" {
				offered = true
			}
		}
	}
	if !offered {
		s.log.Warn("EXI requested but the server does not offer it (no XEP-0322 compression method \"exi\"); continuing in XML", "server", domain)
		return features, nil
	}
	set, err := s.exiSchemas()
	if err != nil {
		return nil, err
	}
	prop, err := s.cfg.EXI.Params(set)
	if err != nil {
		return nil, err
	}
	var resp EXIParams
	if s.cfg.EXI.quick == nil && s.cfg.EXI.QuickFile != "" {
		// A configuration agreed before the last restart, if it was
		// agreed with this server for this very proposal.
		if q, err := loadQuick(s.cfg.EXI.QuickFile, s.quickScope(prop)); err != nil {
			s.log.Warn("EXI quick configuration file ignored", "file", s.cfg.EXI.QuickFile, "err", err)
		} else {
			s.cfg.EXI.quick = q
		}
	}
	if q := s.cfg.EXI.quick; q != nil && q.id != "" {
		// XEP-0322 quick configuration: the setup agreed on an earlier
		// connection, by its configuration ID.
		if err := st.writeElements(NewElement(NSEXI, "setup", "configurationId", q.id)); err != nil {
			return nil, err
		}
		el, err := st.next()
		if err != nil {
			return nil, err
		}
		if qr, err := ParseEXIParams(el); err == nil && IsEXI(el, "setupResponse") && qr.Agreement && qr.ConfigurationID == q.id {
			resp = q.params
			s.log.Info("EXI quick configuration accepted", "configurationId", q.id)
		} else {
			s.log.Info("EXI quick configuration refused; proposing the full setup", "configurationId", q.id)
			q.id = ""
			if f := s.cfg.EXI.QuickFile; f != "" {
				if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
					s.log.Warn("EXI quick configuration file", "err", err)
				}
			}
		}
	}
	if !resp.Agreement {
		var err error
		if resp, err = s.exiSetup(st, prop); err != nil {
			return nil, err
		}
		if !resp.Agreement && len(resp.Missing) == 0 && prop.SessionWideBuffers {
			// A server that does not know sessionWideBuffers may refuse
			// the whole setup instead of lowering it: propose again
			// without it rather than stay in XML.
			s.log.Info("EXI setup refused; proposing again without sessionWideBuffers", "server", domain)
			prop.SessionWideBuffers = false
			if resp, err = s.exiSetup(st, prop); err != nil {
				return nil, err
			}
		}
	}
	if !resp.Agreement && len(resp.Missing) > 0 {
		// Upload what the server lacks, then propose again.
		uploaded := 0
		for _, m := range resp.Missing {
			data, ok := set.Data(m)
			if !ok {
				continue
			}
			if loc, local := s.cfg.EXI.SchemaLocation, lookupFile(set, m); loc != "" && local != "" {
				// The server fetches it instead: the schema's bytes do
				// not cross the device's link.
				done, err := s.downloadSchema(st, loc+local)
				if err != nil {
					return nil, err
				}
				if done {
					continue
				}
			}
			up := NewElement(NSEXI, "uploadSchema", "contentType", "Text").AddText(base64.StdEncoding.EncodeToString(data))
			if err := st.writeElements(up); err != nil {
				return nil, err
			}
			uploaded++
		}
		s.log.Info("EXI schemas the server lacked: sent", "missing", len(resp.Missing), "uploaded", uploaded)
		if resp, err = s.exiSetup(st, prop); err != nil {
			return nil, err
		}
	}
	if !resp.Agreement {
		s.log.Warn("server did not agree to the EXI setup; continuing in XML", "server", domain, "missing_schemas", len(resp.Missing))
		return features, nil
	}
	if resp.Strict && !prop.Strict {
		resp.Strict = false // the server may lower, never raise
	}
	if resp.SessionWideBuffers && !prop.SessionWideBuffers {
		// Not proposed: a server that turns it on anyway is not followed
		// (and decoding its stanzas will fail).
		s.log.Warn("server turned on EXI sessionWideBuffers without a proposal; continuing in XML", "server", domain)
		return features, nil
	}
	opts, err := resp.Options(set, st.max)
	if err != nil {
		// An agreement we cannot follow (a schema we do not hold): stay
		// in XML rather than fail the connection.
		s.log.Warn("cannot use the EXI setup the server agreed to; continuing in XML", "server", domain, "err", err)
		return features, nil
	}
	if resp.ConfigurationID != "" {
		if s.cfg.EXI.quick == nil {
			s.cfg.EXI.quick = &exiQuick{}
		}
		fresh := s.cfg.EXI.quick.id != resp.ConfigurationID
		s.cfg.EXI.quick.id, s.cfg.EXI.quick.params = resp.ConfigurationID, resp
		if f := s.cfg.EXI.QuickFile; f != "" && fresh {
			if err := saveQuick(f, s.quickScope(prop), s.cfg.EXI.quick); err != nil {
				s.log.Warn("EXI quick configuration not saved", "file", f, "err", err)
			}
		}
	}
	if err := st.writeElements(NewElement(NSCompress, "compress").Add(NewElement(NSCompress, "method").AddText("exi"))); err != nil {
		return nil, err
	}
	el, err := st.next()
	if err != nil {
		return nil, err
	}
	if el.Name.Space != NSCompress || el.Name.Local != "compressed" {
		s.log.Warn("server refused EXI compression; continuing in XML", "server", domain, "condition", firstChildName(el))
		return features, nil
	}
	st.useEXI(opts, false)
	s.log.Info("stream switched to EXI (XEP-0322)", "server", domain, "schemas", len(resp.Schemas), "alignment", opts.Alignment.String(), "strict", opts.Strict, "session_wide_buffers", opts.SessionWideBuffers)
	return st.open(domain, true)
}

// exiQuick remembers the setup agreed with the server, for XEP-0322 quick
// configuration on the next connection.
type exiQuick struct {
	id     string
	params EXIParams
}

// exiSetup sends a setup proposal and reads the setupResponse.
func (s *Session) exiSetup(st *stream, prop EXIParams) (EXIParams, error) {
	if err := st.writeElements(prop.Element("setup")); err != nil {
		return EXIParams{}, err
	}
	el, err := st.next()
	if err != nil {
		return EXIParams{}, err
	}
	if !IsEXI(el, "setupResponse") {
		return EXIParams{}, fmt.Errorf("EXI setup: expected setupResponse, got <%s/>", el.Name.Local)
	}
	resp, err := ParseEXIParams(el)
	if err != nil {
		return EXIParams{}, fmt.Errorf("EXI setup: %w", err)
	}
	return resp, nil
}

// downloadSchema asks the server to fetch the schema at url itself
// (XEP-0322 downloadSchema) and reports whether it did.
func (s *Session) downloadSchema(st *stream, url string) (bool, error) {
	if err := st.writeElements(NewElement(NSEXI, "downloadSchema", "url", url)); err != nil {
		return false, err
	}
	el, err := st.next()
	if err != nil {
		return false, err
	}
	if !IsEXI(el, "downloadSchemaResponse") {
		return false, fmt.Errorf("EXI downloadSchema: the server answered <%s>", el.Name.Local)
	}
	if el.Get("result") == "true" {
		s.log.Info("server downloaded EXI schema", "url", url)
		return true, nil
	}
	why := "no reason given"
	if c := el.FirstChild(); c != nil {
		why = c.Name.Local
		for _, a := range []string{"message", "code", "contentTypeReturned"} {
			if v := c.Get(a); v != "" {
				why += " " + a + "=" + v
			}
		}
	}
	s.log.Warn("server could not download EXI schema; uploading it", "url", url, "reason", why)
	return false, nil
}

// lookupFile returns the file name of our copy of schema m, "" if none.
func lookupFile(set *xmppschema.Set, m xmppschema.Schema) string {
	if h, ok := set.Lookup(m); ok {
		return h.File
	}
	return ""
}

// quickFile is the on-disk form of a quick configuration: the ID the
// server gave, the options agreed, and the scope it is valid in.
type quickFile struct {
	Version int       `json:"version"`
	Scope   string    `json:"scope"`
	ID      string    `json:"configurationId"`
	Params  EXIParams `json:"params"`
}

// quickScope identifies what a saved configuration ID is valid for: this
// account, this server address and this very setup proposal (a changed
// option or schema set makes it useless).
func (s *Session) quickScope(prop EXIParams) string {
	var b bytes.Buffer
	prop.Element("setup").WriteXML(&b, "")
	sum := sha256.Sum256(b.Bytes())
	return s.cfg.JID.Bare().String() + " " + s.cfg.Server + " " + hex.EncodeToString(sum[:])
}

// loadQuick reads a saved quick configuration; a missing file, or one of
// another scope, is no configuration and no error.
func loadQuick(path, scope string) (*exiQuick, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if len(data) > 1<<20 {
		return nil, errors.New("larger than 1 MiB")
	}
	var f quickFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("damaged: %w", err)
	}
	if f.Version != 1 || f.Scope != scope || f.ID == "" || !f.Params.Agreement {
		return nil, nil
	}
	return &exiQuick{id: f.ID, params: f.Params}, nil
}

// saveQuick writes q for scope, readable by its owner only, atomically.
func saveQuick(path, scope string, q *exiQuick) error {
	data, err := json.Marshal(quickFile{Version: 1, Scope: scope, ID: q.id, Params: q.params})
	if err != nil {
		return err
	}
	return atomicfile.Write(path, data, 0o600)
}
