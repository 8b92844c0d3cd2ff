package exi

import (
	"errors"
	"fmt"
)

// sessState is where an Encoder or Decoder is in a session of documents
// sharing their tables (Options.SessionWideBuffers).
type sessState uint8

const (
	sessNone   sessState = iota // no session: every document starts fresh
	sessOpen                    // a document of the session is in progress
	sessIdle                    // the last document of the session completed
	sessBroken                  // a document of the session failed or was abandoned
)

// sessionKey is what must not change while tables are kept: the grammars,
// the options that shape the built-in grammars, and the value table
// options.
type sessionKey struct {
	schema   any
	lv       levelsOpts
	vml, vpc int
	frag     bool
}

// session is the sessionWideBuffers state of an Encoder or Decoder.
type session struct {
	state sessState
	key   sessionKey
	docs  int  // documents of the session that continued its tables
	kept  bool // the current document continues the tables
}

// end records the end of the current document; ok when it completed, so
// that its table updates are exactly those the other end made.
func (s *session) end(ok bool) {
	if s.state != sessOpen {
		return
	}
	if ok {
		s.state = sessIdle
	} else {
		s.state = sessBroken
	}
}

// next decides whether a new document keeps the tables of the previous
// one. on is Options.SessionWideBuffers; fresh says that the document's
// header has the cookie or an options document, which starts a new
// session. A document cannot continue a session whose previous document
// did not complete, or with other options: ErrSession.
func (s *session) next(on, fresh bool, key sessionKey) (keep bool, err error) {
	s.kept = false
	switch {
	case !on:
		s.state = sessNone
		return false, nil
	case fresh || s.state == sessNone:
		s.state, s.key, s.docs = sessOpen, key, 0
		return false, nil
	case s.state != sessIdle:
		s.state = sessBroken
		return false, fmt.Errorf("%w: an earlier document of the session did not complete", ErrSession)
	case key != s.key:
		s.state = sessBroken
		return false, fmt.Errorf("%w: the options changed within the session", ErrSession)
	}
	s.state, s.kept = sessOpen, true
	s.docs++
	return true, nil
}

// explain adds to a decoding error of a document that continued the
// session's tables what most likely went wrong.
func (s *session) explain(err error) error {
	if !s.kept || !errors.Is(err, ErrMalformed) {
		return err
	}
	return fmt.Errorf("%w (string tables kept from %d earlier documents, sessionWideBuffers: does the encoder keep them too?)", err, s.docs)
}
