package sensordata

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/sensors"
)

// History answers historical readouts from a store of past samples. Query
// returns the values of the given nodes and fields (empty: all) stamped in
// [from, to] (zero: unbounded) of the historical types in types (the only
// bits set). It honours ctx. A *history.Store (package sensors/history)
// answers it with its Historical method:
//
//	func (h src) Query(ctx context.Context, nodes, fields []string, from, to time.Time, types sensors.ReadoutType) ([]sensors.Field, error) {
//		return h.store.Historical(ctx, types, nodes, fields, from, to)
//	}
type History interface {
	Query(ctx context.Context, nodes, fields []string, from, to time.Time, types sensors.ReadoutType) ([]sensors.Field, error)
}

// Authorizer decides what a requester may read, e.g. by asking a XEP-0324
// provisioning server. It gets the requester's full JID, the node ids the
// readout covers (every node when the request names none) and the field
// names asked for (empty: all), and returns the field names the requester
// may read: nil means no restriction, an empty non-nil slice means
// nothing. The request being decided (its field types and provisioning
// tokens) is in ctx: see RequestFromContext. An error refuses the request: a *xmpp.StanzaError is sent
// as is, any other error as forbidden with the error's text. It may block
// (it runs on a goroutine of its own), bounded by Options.ReadTimeout.
type Authorizer func(ctx context.Context, from jid.JID, nodes, fields []string) (allowed []string, err error)

type requestKey struct{}

// RequestFromContext returns the readout request an Authorizer is asked
// about, for the field types and tokens it carries, e.g. to pass them on
// with provisioning.WithReadoutTypes and provisioning.WithTokens.
func RequestFromContext(ctx context.Context) (Request, bool) {
	r, ok := ctx.Value(requestKey{}).(Request)
	return r, ok
}

// Options tune a Server. The zero value serves momentary readouts with the
// defaults below.
type Options struct {
	// History serves historical field types; nil leaves historical
	// requests to the sensors themselves.
	History History
	// CanRead authorises requests; nil allows every requester.
	CanRead Authorizer
	// ReadTimeout bounds the read of one node (all its sensors), the
	// history query and the authorisation; default 5 s. A node that does
	// not answer in time is reported in a failure.
	ReadTimeout time.Duration
	// MaxFields is the most fields in one fields message; larger readouts
	// are split. Default 100.
	MaxFields int
	// MaxPerRequester bounds the accepted readouts not yet finished of one
	// requester (full JID); more are refused with wait/resource-constraint.
	// Default 8.
	MaxPerRequester int
	// MaxPending bounds the unfinished readouts of all requesters; default
	// 256.
	MaxPending int
	// MaxConcurrent bounds the readouts performed at once; readouts beyond
	// it are accepted as queued. Default 4.
	MaxConcurrent int
	// AcceptWithin is how long a readout that is not queued may hold back
	// its accepted reply to send it in one write with the first results;
	// default 100 ms.
	AcceptWithin time.Duration
	// MaxDelay is the furthest in the future a 'when' may be; default 24 h.
	MaxDelay time.Duration
	// Legacy tells whether to answer a request in the Legacy dialect; nil
	// means the heuristic described in the package documentation (IQ id
	// equal to the seqnr).
	Legacy func(iq *xmpp.Element, r Request) bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// OnDone, when set, is called after each admitted readout with its
	// duration (from the request to its last message) and whether any
	// node failed; for metrics.
	OnDone func(took time.Duration, failed bool)
	// NodeRefs gives the source id and cache type (XEP-0326) written
	// beside node ids in fields and failures, by node id; nil writes node
	// ids alone.
	NodeRefs map[string]NodeRef
	// Logger receives readout errors; nil discards them.
	Logger *slog.Logger
}

func (o *Options) defaults() {
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = 5 * time.Second
	}
	if o.MaxFields <= 0 {
		o.MaxFields = 100
	}
	if o.MaxPerRequester <= 0 {
		o.MaxPerRequester = 8
	}
	if o.MaxPending <= 0 {
		o.MaxPending = 256
	}
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = 4
	}
	if o.AcceptWithin <= 0 {
		o.AcceptWithin = 100 * time.Millisecond
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = 24 * time.Hour
	}
	if o.Legacy == nil {
		o.Legacy = idIsSeqNr
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// idIsSeqNr recognises the draft's clients, which use the seqnr as IQ id.
func idIsSeqNr(iq *xmpp.Element, r Request) bool {
	return iq.Get("id") == strconv.FormatInt(int64(r.SeqNr), 10)
}

// sender sends stanzas; *xmpp.Session is one.
type sender interface {
	Send(ctx context.Context, v any) error
	SendAll(ctx context.Context, vs ...any) error
}

// slot serialises the reads of one sensor: a read that hangs holds it, and
// later reads give up after ReadTimeout instead of piling up.
type slot struct {
	s    sensors.Sensor
	lock chan struct{}
}

// Server answers XEP-0323 readout requests from a set of sensors, grouped
// by their node ids. Register it on the session's mux; add Features to
// the service discovery features. Requests are handled on goroutines of
// the Server, bounded by Options; Close stops them.
type Server struct {
	opts  Options
	order []string           // node ids in registration order
	nodes map[string][]*slot // by node id
	sem   chan struct{}      // readouts in progress
	base  context.Context
	stop  context.CancelFunc
	wg    sync.WaitGroup

	mu      sync.Mutex
	jobs    map[jobKey]*job
	perFrom map[string]int
	closed  bool
}

// NewServer returns a Server for ss; sensors with the same node id form
// one node. The Server does not Halt the sensors.
func NewServer(ss []sensors.Sensor, opts Options) *Server {
	opts.defaults()
	s := &Server{
		opts: opts, nodes: map[string][]*slot{}, sem: make(chan struct{}, opts.MaxConcurrent),
		jobs: map[jobKey]*job{}, perFrom: map[string]int{},
	}
	s.base, s.stop = context.WithCancel(context.Background())
	for _, se := range ss {
		n := se.Node()
		if _, ok := s.nodes[n]; !ok {
			s.order = append(s.order, n)
		}
		s.nodes[n] = append(s.nodes[n], &slot{s: se, lock: make(chan struct{}, 1)})
	}
	return s
}

// Features returns the service discovery features of the Server.
func (s *Server) Features() []string { return []string{NS} }

// ref returns the reference of node n, with its NodeRefs entry.
func (s *Server) ref(n string) NodeRef {
	r := s.opts.NodeRefs[n]
	r.NodeID = n
	return r
}

// Nodes returns the node ids served, in registration order.
func (s *Server) Nodes() []string { return append([]string(nil), s.order...) }

// Register installs the req and cancel handlers on mux.
func (s *Server) Register(mux *xmpp.Mux) {
	mux.IQ("get", NS, "req", xmpp.HandlerFunc(func(ctx context.Context, sess *xmpp.Session, iq *xmpp.Element) error {
		s.handleReq(sess, iq)
		return nil
	}))
	mux.IQ("get", NS, "cancel", xmpp.HandlerFunc(func(ctx context.Context, sess *xmpp.Session, iq *xmpp.Element) error {
		s.handleCancel(sess, iq)
		return nil
	}))
}

// Close cancels the readouts in progress, without a final message, and
// waits for their goroutines. Requests that arrive later are refused.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.stop()
	s.wg.Wait()
	return nil
}

// Pending returns the number of accepted readouts not yet finished.
func (s *Server) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.jobs)
}

type jobKey struct {
	from string
	seq  int32
}

// refuse answers iq with an RFC 6120 error and, for older clients, the
// draft's rejected element with the same text.
func refuse(out sender, iq *xmpp.Element, seq int32, se *xmpp.StanzaError) {
	r := xmpp.ErrorReply(iq, se)
	text := se.Text
	if text == "" {
		text = se.Condition
	}
	r.Add(Rejected{SeqNr: seq, Text: text}.Element())
	_ = out.Send(context.Background(), r)
}

// handleReq validates a request and admits it; it runs on the session's
// reading goroutine and does not block.
func (s *Server) handleReq(out sender, iq *xmpp.Element) {
	payload := iq.Child(NS, "req")
	req, err := ParseRequest(payload)
	if err != nil {
		refuse(out, iq, req.SeqNr, xmpp.NewStanzaError("modify", "bad-request", err.Error()))
		return
	}
	from, err := jid.Parse(iq.Get("from"))
	if err != nil {
		refuse(out, iq, req.SeqNr, xmpp.NewStanzaError("modify", "bad-request", "no valid sender address"))
		return
	}
	if se := s.check(req); se != nil {
		refuse(out, iq, req.SeqNr, se)
		return
	}
	j := &job{srv: s, out: out, iq: iq, req: req, from: from, key: jobKey{from.String(), req.SeqNr}, start: s.opts.Now()}
	if s.opts.Legacy(iq, req) {
		j.dialect = Legacy
	}
	if se := s.admit(j); se != nil {
		refuse(out, iq, req.SeqNr, se)
		return
	}
	go j.run()
}

// check refuses requests for unknown nodes or fields and impossible times.
func (s *Server) check(r Request) *xmpp.StanzaError {
	for _, n := range r.Nodes {
		if _, ok := s.nodes[n.NodeID]; !ok {
			return xmpp.NewStanzaError("cancel", "item-not-found", fmt.Sprintf("no node %q (nodes: %v)", n.NodeID, s.order))
		}
	}
	if len(r.Fields) > 0 {
		found := false
		for _, n := range s.selected(r) {
			for _, sl := range s.nodes[n] {
				for _, spec := range sl.s.Fields() {
					found = found || contains(r.Fields, spec.Name)
				}
			}
		}
		if !found {
			return xmpp.NewStanzaError("cancel", "item-not-found", fmt.Sprintf("no field named %q on the selected nodes", r.Fields))
		}
	}
	if !r.When.IsZero() && r.When.Sub(s.opts.Now()) > s.opts.MaxDelay {
		return xmpp.NewStanzaError("modify", "bad-request", fmt.Sprintf("when %s is more than %v ahead", formatDateTime(r.When), s.opts.MaxDelay))
	}
	return nil
}

// admit registers j within the queue bounds.
func (s *Server) admit(j *job) *xmpp.StanzaError {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return xmpp.NewStanzaError("cancel", "service-unavailable", "sensor data server is shutting down")
	case s.jobs[j.key] != nil:
		return xmpp.NewStanzaError("modify", "bad-request", fmt.Sprintf("seqnr %d is already in use by a readout of yours in progress", j.req.SeqNr))
	case s.perFrom[j.key.from] >= s.opts.MaxPerRequester:
		return xmpp.NewStanzaError("wait", "resource-constraint", fmt.Sprintf("too many readouts in progress from %s (limit %d); retry later", j.key.from, s.opts.MaxPerRequester))
	case len(s.jobs) >= s.opts.MaxPending:
		return xmpp.NewStanzaError("wait", "resource-constraint", fmt.Sprintf("too many readouts in progress (limit %d); retry later", s.opts.MaxPending))
	}
	j.ctx, j.cancel = context.WithCancel(s.base)
	s.jobs[j.key] = j
	s.perFrom[j.key.from]++
	s.wg.Add(1)
	return nil
}

func (s *Server) release(j *job) {
	if f := s.opts.OnDone; f != nil {
		f(s.opts.Now().Sub(j.start), len(j.errs) > 0)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.jobs[j.key] == j {
		delete(s.jobs, j.key)
		if s.perFrom[j.key.from]--; s.perFrom[j.key.from] <= 0 {
			delete(s.perFrom, j.key.from)
		}
	}
	j.cancel()
	s.wg.Done()
}

// handleCancel cancels a readout of the sender, queued or running.
func (s *Server) handleCancel(out sender, iq *xmpp.Element) {
	c, err := Parse(iq.Child(NS, "cancel"))
	if err != nil {
		refuse(out, iq, 0, xmpp.NewStanzaError("modify", "bad-request", err.Error()))
		return
	}
	seq := c.(Cancel).SeqNr
	from, _ := jid.Parse(iq.Get("from"))
	s.mu.Lock()
	j := s.jobs[jobKey{from.String(), seq}]
	s.mu.Unlock()
	if j == nil {
		refuse(out, iq, seq, xmpp.NewStanzaError("cancel", "item-not-found", fmt.Sprintf("no readout %d of yours in progress", seq)))
		return
	}
	// Under the job's lock, so that nothing of the readout follows the
	// confirmation.
	j.mu.Lock()
	if !j.answered && j.accept != nil {
		j.answered = true
		_ = out.Send(context.Background(), j.accept)
	}
	j.cancelled = true
	j.cancel()
	j.mu.Unlock()
	_ = out.Send(context.Background(), xmpp.ResultIQ(iq, Cancelled{SeqNr: seq}.Element()))
}

// selected returns the node ids a request reads, in order, without
// duplicates.
func (s *Server) selected(r Request) []string {
	if len(r.Nodes) == 0 {
		return s.order
	}
	var out []string
	for _, n := range r.Nodes {
		if !contains(out, n.NodeID) {
			out = append(out, n.NodeID)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// errTimeout is wrapped by node reads that take longer than ReadTimeout.
var errTimeout = errors.New("did not answer in time")
