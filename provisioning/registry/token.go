package registry

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/provisioning"
)

// Tokens (XEP-0324 §3.1.3). A requester obtains a token for an X.509
// certificate by proving it holds the private key: the registry encrypts
// a random block to the certificate's RSA key with RSA-OAEP (SHA-256, no
// label) and expects it back decrypted. The XEP leaves the scheme open;
// keys other than RSA are refused. A rule naming "token:" and a token is
// honoured only once the requester presenting the token answered a
// tokenChallenge, sent to the device that asked, which passes it on to
// the requester.

// Bounds and defaults of the token machinery.
const (
	// challengeSize is the random block of a challenge, in bytes.
	challengeSize = 32
	// minRSABits refuses keys too weak to encrypt a challenge to.
	minRSABits = 2048
	// maxCertificate bounds a certificate (DER), in bytes.
	maxCertificate = 16 << 10
	// getTokenTTL is how long a getToken challenge waits for its
	// response: at least a minute (§3.1.3.1).
	getTokenTTL = time.Minute
	// maxPendingPerJID and maxPending bound the getToken challenges
	// waiting, per requester and in all.
	maxPendingPerJID = 4
	maxPending       = 10000
	// maxQuestionTokens bounds the tokens of one question considered.
	maxQuestionTokens = 8
	// maxVerified bounds the remembered verifications.
	maxVerified = 10000
)

// Errors of getToken, as the XEP names them.
var (
	errWrongAnswer = xmpp.NewStanzaError("modify", "bad-request", "wrong challenge response")
	errNoChallenge = xmpp.NewStanzaError("cancel", "item-not-found", "no such challenge (unknown, answered or expired)")
)

// pendingToken is a getToken challenge waiting for its response.
type pendingToken struct {
	jid     string // bare JID that asked
	secret  []byte
	cert    []byte
	expires time.Time
}

// verification is a token challenge's outcome for one requester.
type verification struct {
	ok    bool
	until time.Time
}

// tokenKey is a token (by ID) presented on behalf of a requester.
type tokenKey struct{ id, who string }

// tokens is the server's token state: getToken challenges waiting and
// the verifications of tokens presented in questions.
type tokens struct {
	mu       sync.Mutex
	pending  map[int32]*pendingToken
	verified map[tokenKey]verification
	limit    *limiter
}

func newTokens(o Options) *tokens {
	return &tokens{pending: map[int32]*pendingToken{}, verified: map[tokenKey]verification{},
		limit: newLimiter(o.TokenBurst, o.TokenEvery, o.Now)}
}

// tokenStore returns the store's tokens, or a feature-not-implemented
// error.
func (s *Server) tokenStore() (TokenStore, error) {
	ts, ok := s.store.(TokenStore)
	if !ok {
		return nil, xmpp.NewStanzaError("cancel", "feature-not-implemented", "this registry's store keeps no tokens")
	}
	return ts, nil
}

// rsaKey returns the RSA public key of a certificate (DER).
func rsaKey(der []byte) (*rsa.PublicKey, error) {
	if len(der) > maxCertificate {
		return nil, xmpp.NewStanzaError("modify", "not-acceptable", fmt.Sprintf("certificate larger than %d bytes", maxCertificate))
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, xmpp.NewStanzaError("modify", "bad-request", "not an X.509 certificate (DER, base64): "+err.Error())
	}
	pub, ok := c.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, xmpp.NewStanzaError("modify", "not-acceptable", fmt.Sprintf("certificate key is %s: only RSA keys are supported (challenges are RSA-OAEP with SHA-256)", c.PublicKeyAlgorithm))
	}
	if pub.N.BitLen() < minRSABits {
		return nil, xmpp.NewStanzaError("modify", "not-acceptable", fmt.Sprintf("RSA key of %d bits: at least %d needed", pub.N.BitLen(), minRSABits))
	}
	return pub, nil
}

// encryptChallenge returns a random block and its encryption to pub.
func encryptChallenge(pub *rsa.PublicKey) (secret, enc []byte, err error) {
	secret = make([]byte, challengeSize)
	if _, err := rand.Read(secret); err != nil {
		return nil, nil, fmt.Errorf("registry: challenge: %w", err)
	}
	enc, err = rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, secret, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("registry: encrypting a challenge: %w", err)
	}
	return secret, enc, nil
}

// getToken answers getToken with a challenge encrypted to the
// certificate's key (§3.1.3.1). Requests are rate-limited per bare JID,
// and each JID has at most maxPendingPerJID challenges waiting.
func (s *Server) getToken(from jid.JID, g provisioning.GetToken) (*xmpp.Element, error) {
	if _, err := s.tokenStore(); err != nil {
		return nil, err
	}
	bare := from.Bare().String()
	if !s.tok.limit.allow(bare) {
		s.log.Warn("getToken rate-limited", "from", bare)
		return nil, xmpp.NewStanzaError("wait", "resource-constraint", "too many token requests; try again later")
	}
	pub, err := rsaKey(g.Certificate)
	if err != nil {
		return nil, err
	}
	secret, enc, err := encryptChallenge(pub)
	if err != nil {
		return nil, err
	}
	now := s.opts.Now()
	s.tok.mu.Lock()
	defer s.tok.mu.Unlock()
	n := 0
	for seq, p := range s.tok.pending {
		switch {
		case now.After(p.expires):
			delete(s.tok.pending, seq)
		case p.jid == bare:
			n++
		}
	}
	if n >= maxPendingPerJID || len(s.tok.pending) >= maxPending {
		s.log.Warn("getToken refused: too many challenges waiting", "from", bare, "waiting", n)
		return nil, xmpp.NewStanzaError("wait", "resource-constraint", "too many token challenges waiting; answer them or wait a minute")
	}
	var seq int32
	for {
		var b [4]byte
		_, _ = rand.Read(b[:])
		seq = int32(binary.BigEndian.Uint32(b[:]) >> 1)
		if _, taken := s.tok.pending[seq]; !taken {
			break
		}
	}
	s.tok.pending[seq] = &pendingToken{jid: bare, secret: secret, cert: g.Certificate, expires: now.Add(getTokenTTL)}
	return provisioning.GetTokenChallenge{SeqNr: seq, Challenge: enc}.Element(), nil
}

// getTokenResponse checks the answer to a getToken challenge and, when
// right, issues and stores a token for the certificate. A challenge is
// answered once: right or wrong, it is gone.
func (s *Server) getTokenResponse(ctx context.Context, from jid.JID, r provisioning.GetTokenChallengeResponse) (*xmpp.Element, error) {
	ts, err := s.tokenStore()
	if err != nil {
		return nil, err
	}
	bare := from.Bare().String()
	now := s.opts.Now()
	s.tok.mu.Lock()
	p, ok := s.tok.pending[r.SeqNr]
	if ok && p.jid == bare {
		delete(s.tok.pending, r.SeqNr)
	}
	s.tok.mu.Unlock()
	if !ok || p.jid != bare || now.After(p.expires) {
		return nil, errNoChallenge
	}
	if subtle.ConstantTimeCompare(p.secret, r.Response) != 1 {
		s.log.Warn("getToken: wrong challenge response", "from", bare)
		return nil, errWrongAnswer
	}
	token := randomKey() // 192 random bits, URL-safe base64: no white space
	rec := TokenRecord{ID: TokenID(token), JID: bare, Fingerprint: Fingerprint(p.cert), Certificate: p.cert,
		Created: s.now(), Expires: s.now().Add(s.opts.TokenLifetime)}
	if err := ts.PutToken(ctx, rec); err != nil {
		return nil, err
	}
	if n, err := ts.DeleteExpiredTokens(ctx, now); err != nil {
		s.log.Warn("registry: deleting expired tokens", "err", err)
	} else if n > 0 {
		s.log.Info("expired tokens deleted", "count", n)
	}
	s.log.Info("token issued", "jid", bare, "certificate", rec.Fingerprint, "expires", rec.Expires)
	return provisioning.GetTokenResponse{Token: token}.Element(), nil
}

// verified reports what is known of token presented on behalf of who:
// known (a verification that has not expired) and its outcome.
func (s *Server) verified(token, who string) (ok, known bool) {
	s.tok.mu.Lock()
	defer s.tok.mu.Unlock()
	v, found := s.tok.verified[tokenKey{TokenID(token), who}]
	if !found || s.opts.Now().After(v.until) {
		return false, false
	}
	return v.ok, true
}

// remember records the outcome of a token challenge. Failures are
// remembered for a shorter time, so that a requester who fixes its key
// is not locked out for long, nor a device asked again at once.
func (s *Server) remember(token, who string, ok bool, expires time.Time) {
	ttl := s.opts.TokenVerifyTTL
	if !ok {
		ttl = min(ttl, time.Minute)
	}
	until := s.opts.Now().Add(ttl)
	if ok && expires.Before(until) {
		until = expires // not trusted past the token's life
	}
	s.tok.mu.Lock()
	defer s.tok.mu.Unlock()
	if len(s.tok.verified) >= maxVerified {
		now := s.opts.Now()
		for k, v := range s.tok.verified {
			if now.After(v.until) {
				delete(s.tok.verified, k)
			}
		}
		if len(s.tok.verified) >= maxVerified {
			s.tok.verified = map[tokenKey]verification{} // forget rather than grow
		}
	}
	s.tok.verified[tokenKey{TokenID(token), who}] = verification{ok: ok, until: until}
}

// challengeToken checks that the requester who, on whose behalf device
// presented token, holds the key of the token's certificate: a
// tokenChallenge to the device, which passes it on (§3.1.3.2). Unknown,
// expired and unverifiable tokens fail; the outcome is remembered.
func (s *Server) challengeToken(ctx context.Context, device jid.JID, token, who string) bool {
	expires, err := s.challenge(ctx, device, token)
	ok := err == nil
	if err != nil {
		s.log.Info("token not verified", "device", device.String(), "requester", who, "err", err)
	} else {
		s.log.Debug("token verified", "device", device.String(), "requester", who)
	}
	s.remember(token, who, ok, expires)
	return ok
}

// challenge sends device a tokenChallenge about token and returns the
// token's expiry when it was answered right.
func (s *Server) challenge(ctx context.Context, device jid.JID, token string) (time.Time, error) {
	var never time.Time
	ts, err := s.tokenStore()
	if err != nil {
		return never, err
	}
	rec, err := ts.Token(ctx, TokenID(token))
	if err != nil {
		return never, fmt.Errorf("looking the token up: %w", err)
	}
	if s.opts.Now().After(rec.Expires) {
		return never, errors.New("token expired")
	}
	pub, err := rsaKey(rec.Certificate)
	if err != nil {
		return never, fmt.Errorf("token's certificate: %w", err)
	}
	secret, enc, err := encryptChallenge(pub)
	if err != nil {
		return never, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.TokenChallengeTimeout)
	defer cancel()
	iq := xmpp.NewElement("", "iq", "type", "get", "to", device.String(), "from", s.sess.LocalJID().String()).
		Add(provisioning.TokenChallenge{Token: token, Challenge: enc}.Element())
	res, err := s.sess.SendIQ(ctx, iq)
	if err != nil {
		return never, fmt.Errorf("tokenChallenge to %s: %w", device, err)
	}
	v, err := provisioning.Parse(res.FirstChild())
	r, isResp := v.(provisioning.TokenChallengeResponse)
	if err != nil || !isResp {
		return never, fmt.Errorf("tokenChallenge to %s: want tokenChallengeResponse: %w", device, errors.Join(provisioning.ErrMalformed, err))
	}
	if subtle.ConstantTimeCompare(secret, r.Response) != 1 {
		return never, errors.New("wrong challenge response")
	}
	return rec.Expires, nil
}

// questionTokens returns the tokens a canRead or canControl presents,
// at most maxQuestionTokens.
func questionTokens(v any) []string {
	var t provisioning.Tokens
	switch q := v.(type) {
	case provisioning.CanRead:
		t = q.Tokens
	case provisioning.CanControl:
		t = q.Tokens
	}
	l := t.List()
	if len(l) > maxQuestionTokens {
		l = l[:maxQuestionTokens]
	}
	return l
}

// requesterOfQuestion returns the bare JID a question is about.
func requesterOfQuestion(v any) string {
	var s string
	switch q := v.(type) {
	case provisioning.CanRead:
		s = q.JID
	case provisioning.CanControl:
		s = q.JID
	}
	b, _ := bareOf(s)
	return b
}

// answerWithTokens answers a question that presents tokens. The decision
// is first taken trusting every token not known to have failed; when it
// rests on a token not yet verified for the requester, the token is
// challenged (off the serial handler, so that the device can pass the
// challenge on meanwhile) and the decision taken again without the
// tokens that failed. The reply to iq is sent when decided.
func (s *Server) answerWithTokens(ctx context.Context, iq *xmpp.Element, from jid.JID, v any, toks []string) error {
	who := requesterOfQuestion(v)
	var cands []string
	for _, t := range toks {
		if ok, known := s.verified(t, who); ok || !known {
			cands = append(cands, t)
		}
	}
	reply, used, err := s.answer(ctx, from, v, cands)
	if err != nil {
		return err
	}
	if len(s.unverified(used, who)) == 0 {
		return s.sess.Send(ctx, xmpp.ResultIQ(iq, reply))
	}
	started := s.spawn(func(ctx context.Context) {
		for range maxQuestionTokens {
			todo := s.unverified(used, who)
			if len(todo) == 0 {
				break
			}
			for _, t := range todo {
				if !s.challengeToken(ctx, from, t, who) {
					cands = without(cands, t)
				}
			}
			if reply, used, err = s.answer(ctx, from, v, cands); err != nil {
				break
			}
		}
		if err == nil && len(s.unverified(used, who)) > 0 {
			err = errors.New("registry: tokens still unverified") // cannot happen: each pass drops or verifies
		}
		if err != nil {
			s.log.Warn("registry: question with tokens", "from", from.String(), "err", err)
			var se *xmpp.StanzaError
			if !errors.As(err, &se) {
				se = xmpp.NewStanzaError("wait", "internal-server-error", "")
			}
			_ = s.sess.Send(ctx, xmpp.ErrorReply(iq, se))
			return
		}
		if err := s.sess.Send(ctx, xmpp.ResultIQ(iq, reply)); err != nil {
			s.log.Info("registry: answer not sent", "to", from.String(), "err", err)
		}
	})
	if started {
		return nil
	}
	// Too busy to challenge: decide on the verified tokens only.
	var verified []string
	for _, t := range cands {
		if ok, _ := s.verified(t, who); ok {
			verified = append(verified, t)
		}
	}
	if reply, _, err = s.answer(ctx, from, v, verified); err != nil {
		return err
	}
	return s.sess.Send(ctx, xmpp.ResultIQ(iq, reply))
}

// unverified returns the tokens of used not verified for who.
func (s *Server) unverified(used []string, who string) []string {
	var out []string
	for _, t := range used {
		if ok, _ := s.verified(t, who); !ok {
			out = append(out, t)
		}
	}
	return out
}

func without(l []string, x string) []string {
	out := l[:0:0]
	for _, y := range l {
		if y != x {
			out = append(out, y)
		}
	}
	return out
}
