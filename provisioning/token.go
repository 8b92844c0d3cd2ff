package provisioning

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/internal/xmpp"
)

// GetToken asks the provisioning server for a token identifying the holder
// of an X.509 certificate (its DER-encoded public part) (§3.1.3.1).
type GetToken struct {
	Certificate []byte
}

// Element returns the getToken element.
func (g GetToken) Element() *xmpp.Element { return base64Element("getToken", g.Certificate) }

// GetTokenChallenge is the server's answer to GetToken: a random block
// encrypted with the certificate's public key, to be decrypted and
// returned in a GetTokenChallengeResponse with the same SeqNr.
type GetTokenChallenge struct {
	SeqNr     int32
	Challenge []byte
}

// Element returns the getTokenChallenge element.
func (g GetTokenChallenge) Element() *xmpp.Element {
	return base64Element("getTokenChallenge", g.Challenge).Set("seqnr", fmt.Sprint(g.SeqNr))
}

// GetTokenChallengeResponse returns the decrypted challenge.
type GetTokenChallengeResponse struct {
	SeqNr    int32
	Response []byte
}

// Element returns the getTokenChallengeResponse element.
func (g GetTokenChallengeResponse) Element() *xmpp.Element {
	return base64Element("getTokenChallengeResponse", g.Response).Set("seqnr", fmt.Sprint(g.SeqNr))
}

// GetTokenResponse carries the token granted for the certificate.
type GetTokenResponse struct {
	Token string
}

// Element returns the getTokenResponse element.
func (g GetTokenResponse) Element() *xmpp.Element {
	e := xmpp.NewElement(NS, "getTokenResponse")
	e.Attr = append(e.Attr, attr("token", g.Token))
	return e
}

// TokenChallenge is a provisioning server's check that the sender of Token
// holds the certificate behind it (§3.1.3.2): Challenge is encrypted with
// its public key.
type TokenChallenge struct {
	Token     string
	Challenge []byte
}

// Element returns the tokenChallenge element.
func (t TokenChallenge) Element() *xmpp.Element {
	e := base64Element("tokenChallenge", t.Challenge)
	e.Attr = append(e.Attr, attr("token", t.Token))
	return e
}

// TokenChallengeResponse returns the decrypted challenge.
type TokenChallengeResponse struct {
	Response []byte
}

// Element returns the tokenChallengeResponse element.
func (t TokenChallengeResponse) Element() *xmpp.Element {
	return base64Element("tokenChallengeResponse", t.Response)
}

// challengeWindow is how long after sending a token the device answers
// challenges about it (§3.1.3.2, §6.2: "the last minute").
const challengeWindow = time.Minute

// maxTokenLog bounds the remembered token uses.
const maxTokenLog = 4096

// tokenLog remembers which tokens were sent to whom in the last minute,
// and on whose behalf, so that a token challenge is answered only by the
// party it concerns.
type tokenLog struct {
	mu   sync.Mutex
	now  func() time.Time
	uses map[tokenTo]tokenUse
}

type tokenTo struct {
	token string
	to    string // bare JID the token was sent to
}

type tokenUse struct {
	origin jid.JID // full JID of the party that gave us the token; zero: our own
	at     time.Time
}

func newTokenLog(now func() time.Time) *tokenLog {
	return &tokenLog{now: now, uses: map[tokenTo]tokenUse{}}
}

func (l *tokenLog) note(token string, to, origin jid.JID) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.uses) >= maxTokenLog {
		for k, u := range l.uses {
			if now.Sub(u.at) > challengeWindow {
				delete(l.uses, k)
			}
		}
	}
	if len(l.uses) >= maxTokenLog {
		return // a flood of tokens: challenges about them will be refused
	}
	l.uses[tokenTo{token, to.Bare().String()}] = tokenUse{origin: origin, at: now}
}

func (l *tokenLog) lookup(token string, from jid.JID) (tokenUse, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	u, ok := l.uses[tokenTo{token, from.Bare().String()}]
	if !ok || l.now().Sub(u.at) > challengeWindow {
		return tokenUse{}, false
	}
	return u, true
}

// noteTokens records that the tokens of a request from origin are passed
// on to the provisioning server.
func (c *Client) noteTokens(t Tokens, origin jid.JID) {
	server := c.Server()
	for _, tok := range t.List() {
		c.tokens.note(tok, server, origin)
	}
}

// NoteTokensSent records that the device sent its own tokens to to (in a
// request of its own), so that to may challenge them within a minute.
func (c *Client) NoteTokensSent(to jid.JID, t Tokens) {
	for _, tok := range t.List() {
		c.tokens.note(tok, to, jid.JID{})
	}
}

// GetToken obtains a token for the device's certificate (DER) from the
// provisioning server: getToken, the challenge decrypted with
// Options.Decrypt, and the token in return (§3.1.3.1).
func (c *Client) GetToken(ctx context.Context, certificate []byte) (string, error) {
	if c.opts.Decrypt == nil {
		return "", errors.New("provisioning: getToken needs Options.Decrypt")
	}
	ctx, cancel := context.WithTimeout(ctx, 2*c.opts.Timeout)
	defer cancel()
	to := c.target().String()
	res, err := c.sess.SendIQ(ctx, xmpp.NewElement("", "iq", "type", "get", "to", to).Add(GetToken{Certificate: certificate}.Element()))
	if err != nil {
		return "", fmt.Errorf("provisioning: getToken from %s: %w", to, err)
	}
	v, err := Parse(res.FirstChild())
	ch, ok := v.(GetTokenChallenge)
	if err != nil || !ok {
		return "", fmt.Errorf("provisioning: getToken from %s: want getTokenChallenge: %w", to, errors.Join(ErrMalformed, err))
	}
	plain, err := c.opts.Decrypt(ch.Challenge)
	if err != nil {
		return "", fmt.Errorf("provisioning: getToken from %s: decrypting the challenge: %w", to, err)
	}
	res, err = c.sess.SendIQ(ctx, xmpp.NewElement("", "iq", "type", "get", "to", to).Add(GetTokenChallengeResponse{SeqNr: ch.SeqNr, Response: plain}.Element()))
	if err != nil {
		return "", fmt.Errorf("provisioning: getToken from %s: challenge response: %w", to, err)
	}
	v, err = Parse(res.FirstChild())
	tr, ok := v.(GetTokenResponse)
	if err != nil || !ok || tr.Token == "" {
		return "", fmt.Errorf("provisioning: getToken from %s: want getTokenResponse with a token: %w", to, errors.Join(ErrMalformed, err))
	}
	return tr.Token, nil
}

// handleTokenChallenge answers a tokenChallenge (§3.1.3.2): only from a
// party the token was sent to in the last minute; for the device's own
// tokens with Options.Decrypt, for tokens passed on from a requester by
// passing the challenge on to that requester. The answer is sent from a
// goroutine, as the challenge may travel further.
func (c *Client) handleTokenChallenge(ctx context.Context, s *xmpp.Session, iq *xmpp.Element) error {
	v, err := Parse(iq.FirstChild())
	if err != nil {
		return xmpp.NewStanzaError("modify", "bad-request", err.Error())
	}
	tc := v.(TokenChallenge)
	from, err := jid.Parse(iq.Get("from"))
	if err != nil {
		return xmpp.NewStanzaError("modify", "bad-request", "no valid sender")
	}
	use, ok := c.tokens.lookup(tc.Token, from)
	if !ok {
		c.log.Warn("refusing a token challenge for a token not sent to the challenger", "from", from.String())
		return xmpp.NewStanzaError("cancel", "forbidden", "")
	}
	if use.origin.String() == "" {
		if c.opts.Decrypt == nil {
			return xmpp.NewStanzaError("cancel", "forbidden", "")
		}
		plain, err := c.opts.Decrypt(tc.Challenge)
		if err != nil {
			c.log.Warn("token challenge: decryption failed", "from", from.String(), "err", err)
			return xmpp.NewStanzaError("cancel", "forbidden", "")
		}
		return s.Send(ctx, xmpp.ResultIQ(iq, TokenChallengeResponse{Response: plain}.Element()))
	}
	go c.propagateChallenge(context.WithoutCancel(ctx), s, iq, tc, use.origin)
	return nil
}

// propagateChallenge asks origin to answer tc and returns its answer, or
// its refusal, to the challenger.
func (c *Client) propagateChallenge(ctx context.Context, s *xmpp.Session, iq *xmpp.Element, tc TokenChallenge, origin jid.JID) {
	qctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	res, err := s.SendIQ(qctx, xmpp.NewElement("", "iq", "type", "get", "to", origin.String()).Add(tc.Element()))
	var reply *xmpp.Element
	if err == nil {
		v, perr := Parse(res.FirstChild())
		if r, ok := v.(TokenChallengeResponse); perr == nil && ok {
			reply = xmpp.ResultIQ(iq, r.Element())
		} else {
			err = fmt.Errorf("%w: want tokenChallengeResponse", ErrMalformed)
		}
	}
	if err != nil {
		c.log.Warn("token challenge passed on to the token's sender failed", "to", origin.String(), "err", err)
		var se *xmpp.StanzaError
		switch {
		case errors.As(err, &se):
		case errors.Is(err, context.DeadlineExceeded):
			se = xmpp.NewStanzaError("wait", "remote-server-timeout", "")
		default:
			se = xmpp.NewStanzaError("cancel", "forbidden", "")
		}
		reply = xmpp.ErrorReply(iq, se)
	}
	if err := s.Send(ctx, reply); err != nil {
		c.log.Warn("token challenge answer not sent", "err", err)
	}
}

// Holder answers token challenges for a requester that holds the private
// key behind its tokens (a service, user or device that passes its tokens
// in readout or control requests): a challenge is answered only for one
// of its tokens and only from a party they were sent to in the last
// minute (§3.1.3.2, §6.2). Its methods are safe for concurrent use.
type Holder struct {
	tokens  Tokens
	decrypt func(challenge []byte) ([]byte, error)
	log     *tokenLog
}

// NewHolder returns a Holder of tokens whose challenges decrypt
// decrypts (with the private key of the certificate the tokens were
// obtained for). now is the clock; nil means time.Now.
func NewHolder(tokens Tokens, decrypt func(challenge []byte) ([]byte, error), now func() time.Time) *Holder {
	if now == nil {
		now = time.Now
	}
	return &Holder{tokens: tokens, decrypt: decrypt, log: newTokenLog(now)}
}

// Tokens returns the holder's tokens, to put in a request.
func (h *Holder) Tokens() Tokens { return h.tokens }

// Sent records that the tokens were sent to to (in a request), so that
// to may challenge them within a minute.
func (h *Holder) Sent(to jid.JID) {
	for _, tok := range h.tokens.List() {
		h.log.note(tok, to, jid.JID{})
	}
}

// Register routes tokenChallenge requests to the holder on mux.
func (h *Holder) Register(mux *xmpp.Mux) {
	mux.IQ("get", NS, "tokenChallenge", xmpp.IQFunc(h.answer))
}

func (h *Holder) answer(_ context.Context, iq *xmpp.Element) (*xmpp.Element, error) {
	v, err := Parse(iq.FirstChild())
	if err != nil {
		return nil, xmpp.NewStanzaError("modify", "bad-request", err.Error())
	}
	tc := v.(TokenChallenge)
	from, err := jid.Parse(iq.Get("from"))
	if err != nil {
		return nil, xmpp.NewStanzaError("modify", "bad-request", "no valid sender")
	}
	if _, ok := h.log.lookup(tc.Token, from); !ok {
		return nil, xmpp.NewStanzaError("cancel", "forbidden", "")
	}
	plain, err := h.decrypt(tc.Challenge)
	if err != nil {
		return nil, xmpp.NewStanzaError("cancel", "forbidden", "")
	}
	return TokenChallengeResponse{Response: plain}.Element(), nil
}

// DecryptOAEP returns a decrypter of challenges, for Options.Decrypt and
// NewHolder, by the private key d of an RSA certificate (an
// *rsa.PrivateKey, or a key in a hardware token): RSA-OAEP with SHA-256
// and no label, the scheme of the xiot registry (XEP-0324 names none).
func DecryptOAEP(d crypto.Decrypter) func(challenge []byte) ([]byte, error) {
	return func(challenge []byte) ([]byte, error) {
		plain, err := d.Decrypt(rand.Reader, challenge, &rsa.OAEPOptions{Hash: crypto.SHA256})
		if err != nil {
			return nil, fmt.Errorf("provisioning: decrypting a token challenge: %w", err)
		}
		return plain, nil
	}
}
