package provisioning_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"slices"
	"sync"
	"sync/atomic"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/provisioning"
)

// rule is what the scripted provisioning server allows one requester
// (bare JID). Empty lists allow everything; the zero rule refuses all.
type rule struct {
	friend             bool
	read               bool
	readNodes          []string
	readFields         []string
	control            bool
	controlNodes       []string
	controlParams      []string
	secondaryTrustOkay bool
}

// provPeer is a provisioning server as XEP-0324 §3 describes its role,
// scripted by a rule table, on its own client session. It counts the
// questions it is asked.
type provPeer struct {
	sess *xmpp.Session

	mu        sync.Mutex
	rules     map[string]rule
	asked     map[string]int
	questions []any // decoded questions, in order

	silent atomic.Bool   // leave questions unanswered
	hold   chan struct{} // when set, answers wait until it is closed

	// getToken: the certificate holder's key and the challenges issued.
	certKey    *rsa.PublicKey
	challenges map[int32][]byte
	seq        int32
}

func newProvPeer() *provPeer {
	return &provPeer{rules: map[string]rule{}, asked: map[string]int{}, challenges: map[int32][]byte{}}
}

func (p *provPeer) setRule(j string, r rule) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules[j] = r
}

// count returns how many questions of kind (element name) were asked.
func (p *provPeer) count(kind string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.asked[kind]
}

func (p *provPeer) lastQuestion() any {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.questions) == 0 {
		return nil
	}
	return p.questions[len(p.questions)-1]
}

func (p *provPeer) register(mux *xmpp.Mux) {
	for _, q := range []string{"isFriend", "canRead", "canControl", "getToken", "getTokenChallengeResponse"} {
		mux.IQ("get", provisioning.NS, q, xmpp.HandlerFunc(p.handle))
	}
	// Subscription requests from devices are approved (§3.1.1).
	mux.Presence(xmpp.HandlerFunc(func(ctx context.Context, s *xmpp.Session, st *xmpp.Element) error {
		if st.Get("type") == "subscribe" {
			from, _ := jid.Parse(st.Get("from"))
			return s.Send(ctx, xmpp.NewElement("", "presence", "to", from.Bare().String(), "type", "subscribed"))
		}
		return nil
	}))
}

// handle answers one question. It runs on the reading goroutine and only
// sends.
func (p *provPeer) handle(ctx context.Context, s *xmpp.Session, iq *xmpp.Element) error {
	v, err := provisioning.Parse(iq.FirstChild())
	if err != nil {
		return xmpp.NewStanzaError("modify", "bad-request", err.Error())
	}
	p.mu.Lock()
	p.asked[iq.FirstChild().Name.Local]++
	p.questions = append(p.questions, v)
	p.mu.Unlock()
	if p.silent.Load() {
		return nil
	}
	answer, err := p.answer(v)
	if err != nil {
		return err
	}
	p.mu.Lock()
	hold := p.hold
	p.mu.Unlock()
	if hold != nil {
		go func() {
			<-hold
			_ = s.Send(ctx, xmpp.ResultIQ(iq, answer.Element()))
		}()
		return nil
	}
	return s.Send(ctx, xmpp.ResultIQ(iq, answer.Element()))
}

// holdAnswers makes answers wait until release is closed.
func (p *provPeer) holdAnswers(release chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hold = release
}

type element interface{ Element() *xmpp.Element }

func (p *provPeer) answer(v any) (element, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch q := v.(type) {
	case provisioning.IsFriend:
		r := p.rules[bare(q.JID)]
		return provisioning.IsFriendResponse{JID: q.JID, Result: r.friend, SecondaryTrustAllowed: r.secondaryTrustOkay}, nil
	case provisioning.CanRead:
		r := p.rules[bare(q.JID)]
		resp := provisioning.CanReadResponse{JID: q.JID, Types: q.Types}
		if !r.read {
			return resp, nil
		}
		nodes, okN := restrictNodes(q.Nodes, r.readNodes)
		fields, okF := restrict(q.Fields, r.readFields)
		// §3.3.2/3: when nothing requested is allowed, result is false.
		resp.Result = okN && okF
		if resp.Result {
			resp.Nodes, resp.Fields = nodes, fields
		}
		return resp, nil
	case provisioning.CanControl:
		r := p.rules[bare(q.JID)]
		resp := provisioning.CanControlResponse{JID: q.JID}
		if !r.control {
			return resp, nil
		}
		nodes, okN := restrictNodes(q.Nodes, r.controlNodes)
		params, okP := restrict(q.Params, r.controlParams)
		resp.Result = okN && okP
		if resp.Result {
			resp.Nodes, resp.Params = nodes, params
		}
		return resp, nil
	case provisioning.GetToken:
		cert, err := x509.ParseCertificate(q.Certificate)
		if err != nil {
			return nil, xmpp.NewStanzaError("modify", "bad-request", "not a certificate")
		}
		pub, ok := cert.PublicKey.(*rsa.PublicKey)
		if !ok {
			return nil, xmpp.NewStanzaError("modify", "bad-request", "not an RSA certificate")
		}
		secret := make([]byte, 32)
		_, _ = rand.Read(secret)
		enc, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, secret, nil)
		if err != nil {
			return nil, err
		}
		p.seq++
		p.challenges[p.seq] = secret
		p.certKey = pub
		return provisioning.GetTokenChallenge{SeqNr: p.seq, Challenge: enc}, nil
	case provisioning.GetTokenChallengeResponse:
		secret, ok := p.challenges[q.SeqNr]
		if !ok {
			return nil, xmpp.ErrItemNotFound
		}
		delete(p.challenges, q.SeqNr)
		if subtle.ConstantTimeCompare(secret, q.Response) != 1 {
			return nil, xmpp.ErrBadRequest
		}
		return provisioning.GetTokenResponse{Token: "DEVICETOKEN1"}, nil
	}
	return nil, xmpp.ErrFeatureNotImplemented
}

// restrict applies an allow list to the requested names: the answer lists
// what may be used (nil: all), ok is false when nothing requested is
// allowed.
func restrict(asked, allowed []string) ([]string, bool) {
	if len(allowed) == 0 {
		return nil, true
	}
	if len(asked) == 0 {
		return allowed, true
	}
	var out []string
	for _, a := range asked {
		if slices.Contains(allowed, a) {
			out = append(out, a)
		}
	}
	return out, len(out) > 0
}

func restrictNodes(asked []provisioning.NodeRef, allowed []string) ([]provisioning.NodeRef, bool) {
	ids := make([]string, len(asked))
	for i, n := range asked {
		ids[i] = n.NodeID
	}
	names, ok := restrict(ids, allowed)
	var out []provisioning.NodeRef
	for _, n := range names {
		out = append(out, provisioning.NodeRef{NodeID: n})
	}
	return out, ok
}

func bare(s string) string {
	j, err := jid.Parse(s)
	if err != nil {
		return s
	}
	return j.Bare().String()
}
