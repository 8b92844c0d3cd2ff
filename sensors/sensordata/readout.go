package sensordata

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/sensors"
)

// job is one admitted readout request.
type job struct {
	srv     *Server
	out     sender
	iq      *xmpp.Element
	req     Request
	from    jid.JID
	key     jobKey
	dialect Dialect
	ctx     context.Context
	cancel  context.CancelFunc
	start   time.Time // when the request arrived

	mu        sync.Mutex // held while sending, so cancel can fence us
	cancelled bool
	answered  bool          // the req IQ has its reply
	accept    *xmpp.Element // the accepted IQ result, until sent

	pending *Fields // the last fields message, held back to mark it done
	errs    []NodeError

	// Owned by whoever runs the job: its goroutine, or the watchdog that
	// took over from a read that hung.
	holdsSem    bool
	acceptTimer *time.Timer
	owner       atomic.Int32 // ownerReader, then ownerDone or ownerWatchdog
}

// Owners of a single-node readout while its sensors are read.
const (
	ownerReader   = iota // the job goroutine, reading
	ownerDone            // the job goroutine, read finished in time
	ownerWatchdog        // the watchdog: the read hung
)

// watchdogMargin lets a read that honours its context report its own
// deadline error before the watchdog takes over.
const watchdogMargin = 50 * time.Millisecond

// complete ends the job: the IQ gets its reply if it has none, the
// concurrency slot and the queue entry are released.
func (j *job) complete() {
	if j.acceptTimer != nil {
		j.acceptTimer.Stop()
	}
	j.answer()
	if j.holdsSem {
		j.holdsSem = false
		<-j.srv.sem
	}
	j.srv.release(j)
}

// send sends a message to the requester unless the readout was cancelled;
// it reports whether the readout goes on.
func (j *job) send(payload *xmpp.Element) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.cancelled || j.ctx.Err() != nil {
		return false
	}
	msg := xmpp.NewElement("", "message", "to", j.iq.Get("from"), "from", j.iq.Get("to")).Add(payload)
	var err error
	switch {
	case !j.answered && j.dialect == Legacy:
		// The draft's clients need accepted first.
		j.answered = true
		err = j.out.SendAll(j.ctx, j.accept, msg)
	case !j.answered:
		// The first results, then the accepted reply, in one write:
		// XEP-0323 §3 lets a client that gets fields before accepted
		// assume acceptance, so a quick readout completes as soon as its
		// message arrives.
		j.answered = true
		err = j.out.SendAll(j.ctx, msg, j.accept)
	default:
		err = j.out.Send(j.ctx, msg)
	}
	if err != nil {
		j.srv.opts.Logger.Warn("sensor data: sending readout", "to", j.key.from, "seqnr", j.req.SeqNr, "err", err)
		return false
	}
	return true
}

// answer sends the accepted reply unless the request has its answer.
func (j *job) answer() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if !j.answered && j.accept != nil {
		j.answered = true
		_ = j.out.Send(context.Background(), j.accept)
	}
}

// refuse answers the request with an error instead of accepted.
func (j *job) refuse(se *xmpp.StanzaError) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if !j.answered {
		j.answered = true
		refuse(j.out, j.iq, j.req.SeqNr, se)
	}
}

func (j *job) run() {
	if !j.perform() {
		j.complete()
	}
}

// perform runs the job; it reports whether it handed the job over to the
// watchdog, which then completes it.
func (j *job) perform() (handedOver bool) {
	s := j.srv
	opts := s.opts
	fields := j.req.Fields
	if opts.CanRead != nil {
		actx, cancel := context.WithTimeout(context.WithValue(j.ctx, requestKey{}, j.req), opts.ReadTimeout)
		allowed, err := opts.CanRead(actx, j.from, s.selected(j.req), j.req.Fields)
		cancel()
		var se *xmpp.StanzaError
		switch {
		case errors.As(err, &se):
		case err != nil:
			se = xmpp.NewStanzaError("auth", "forbidden", err.Error())
		case allowed != nil && len(allowed) == 0:
			se = xmpp.NewStanzaError("auth", "forbidden", "not allowed to read these fields")
		}
		if se != nil {
			j.refuse(se)
			return false
		}
		if allowed != nil {
			if fields = intersect(fields, allowed); len(fields) == 0 {
				j.refuse(xmpp.NewStanzaError("auth", "forbidden", "not allowed to read the requested fields"))
				return false
			}
		}
	}

	wait := time.Duration(0)
	if !j.req.When.IsZero() {
		wait = j.req.When.Sub(opts.Now())
	}
	if wait <= 0 {
		select {
		case s.sem <- struct{}{}:
			j.holdsSem = true
		default:
		}
	}
	queued := !j.holdsSem
	j.mu.Lock()
	j.accept = xmpp.ResultIQ(j.iq, Accepted{SeqNr: j.req.SeqNr, Queued: queued}.Element())
	j.mu.Unlock()
	if queued {
		j.answer()
	} else {
		// Accept with the first results, or after AcceptWithin if the
		// sensors are slow.
		j.acceptTimer = time.AfterFunc(opts.AcceptWithin, j.answer)
	}
	if queued {
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-j.ctx.Done():
				t.Stop()
				return false
			}
		}
		select {
		case s.sem <- struct{}{}:
			j.holdsSem = true
		case <-j.ctx.Done():
			return false
		}
		if !j.send(Started{SeqNr: j.req.SeqNr}.Element()) {
			return false
		}
	}
	return j.readout(fields)
}

// nodeResult is what reading one node gave.
type nodeResult struct {
	fields []sensors.Field
	err    error
}

// readout reads the selected nodes and sends their fields in node order,
// then the historical fields, then any failure. One node is read on the
// job's goroutine, under a watchdog that takes the job over if the read
// outlives ReadTimeout (a driver that ignores its context); several are
// read concurrently, each on a goroutine of its own. It reports whether
// the watchdog took over.
func (j *job) readout(names []string) (handedOver bool) {
	s := j.srv
	types := j.req.Types & sensors.AllTypes
	if types == 0 {
		types = sensors.AllTypes
	}
	nodes := s.selected(j.req)
	live := types
	if s.opts.History != nil {
		live &^= sensors.Historical
	}
	if len(nodes) == 1 {
		n := nodes[0]
		watchdog := time.AfterFunc(s.opts.ReadTimeout+watchdogMargin, func() {
			if j.owner.CompareAndSwap(ownerReader, ownerWatchdog) {
				j.afterNodes(nodes, []nodeResult{{err: j.hung(n)}}, types, names)
				j.complete()
			}
		})
		f, err := j.readNode(n, live, names)
		if !j.owner.CompareAndSwap(ownerReader, ownerDone) {
			return true // too late: the watchdog reported the node and owns the job
		}
		watchdog.Stop()
		j.afterNodes(nodes, []nodeResult{{f, err}}, types, names)
		return false
	}
	results := make([]chan nodeResult, len(nodes))
	for i, n := range nodes {
		results[i] = make(chan nodeResult, 1)
		go func() {
			f, err := j.readNode(n, live, names)
			results[i] <- nodeResult{f, err}
		}()
	}
	deadline := time.NewTimer(s.opts.ReadTimeout + watchdogMargin)
	defer deadline.Stop()
	got := make([]nodeResult, len(nodes))
	expired := false
	for i, n := range nodes {
		if expired {
			select {
			case got[i] = <-results[i]:
			default:
				got[i] = nodeResult{err: j.hung(n)}
			}
			continue
		}
		select {
		case got[i] = <-results[i]:
		case <-deadline.C:
			expired = true
			got[i] = nodeResult{err: j.hung(n)}
		}
	}
	j.afterNodes(nodes, got, types, names)
	return false
}

// hung is the error of a node whose read did not return in time.
func (j *job) hung(n string) error {
	var names []string
	for _, sl := range j.srv.nodes[n] {
		names = append(names, sl.s.String())
	}
	return fmt.Errorf("%s: %w", strings.Join(names, ", "), errTimeout)
}

// afterNodes sends the nodes' fields and errors, the historical fields,
// and the final message.
func (j *job) afterNodes(nodes []string, got []nodeResult, types sensors.ReadoutType, names []string) {
	s := j.srv
	for i, n := range nodes {
		r := got[i]
		if r.err != nil {
			j.errs = append(j.errs, NodeError{Node: s.ref(n), Timestamp: s.opts.Now(), Text: r.err.Error()})
		}
		if !j.emit(filter(r.fields, types, names)) {
			return
		}
	}
	if hist := types & sensors.Historical; s.opts.History != nil && hist != 0 {
		ctx, cancel := context.WithTimeout(j.ctx, s.opts.ReadTimeout)
		var ids []string
		if len(j.req.Nodes) > 0 {
			ids = nodes
		}
		f, err := s.opts.History.Query(ctx, ids, names, j.req.From, j.req.To, hist)
		cancel()
		if err != nil {
			for _, n := range nodes {
				j.errs = append(j.errs, NodeError{Node: s.ref(n), Timestamp: s.opts.Now(), Text: "history: " + err.Error()})
			}
		}
		if !j.emit(filterRange(filter(f, hist, names), j.req.From, j.req.To)) {
			return
		}
	}
	j.finish()
}

// readNode reads every sensor of node n whose fields intersect types and
// names.
func (j *job) readNode(n string, types sensors.ReadoutType, names []string) ([]sensors.Field, error) {
	if types == 0 {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(j.ctx, j.srv.opts.ReadTimeout)
	defer cancel()
	var out []sensors.Field
	var errs []error
	for _, sl := range j.srv.nodes[n] {
		if !wants(sl.s, types, names) {
			continue
		}
		f, err := readSensor(ctx, sl, types)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, f...)
	}
	return out, errors.Join(errs...)
}

// readSensor reads one sensor, waiting at most until ctx ends for an
// earlier read of the same sensor to return. A driver that ignores ctx
// keeps the caller: the watchdog or the deadline of readout deals with it.
func readSensor(ctx context.Context, sl *slot, types sensors.ReadoutType) ([]sensors.Field, error) {
	select {
	case sl.lock <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: busy with an earlier read that has not returned: %w", sl.s, errTimeout)
	}
	defer func() { <-sl.lock }()
	f, err := sl.s.Read(ctx, types)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: %w (%v)", sl.s, errTimeout, err)
		}
		return nil, fmt.Errorf("%s: %w", sl.s, err)
	}
	return f, nil
}

// wants reports whether a sensor has a field of the types and names.
func wants(s sensors.Sensor, types sensors.ReadoutType, names []string) bool {
	for _, spec := range s.Fields() {
		if spec.Types.Intersects(types) && (len(names) == 0 || contains(names, spec.Name)) {
			return true
		}
	}
	return false
}

// emit queues fields for sending in messages of at most MaxFields, holding
// back the last one so that it can carry done.
func (j *job) emit(fields []sensors.Field) bool {
	max := j.srv.opts.MaxFields
	for len(fields) > 0 {
		if j.pending == nil {
			j.pending = &Fields{SeqNr: j.req.SeqNr, Refs: j.srv.opts.NodeRefs}
		}
		room := max - len(j.pending.Fields)
		if room == 0 {
			if !j.send(j.pending.ElementFor(j.dialect)) {
				return false
			}
			j.pending = &Fields{SeqNr: j.req.SeqNr, Refs: j.srv.opts.NodeRefs}
			room = max
		}
		n := min(room, len(fields))
		j.pending.Fields = append(j.pending.Fields, fields[:n]...)
		fields = fields[n:]
	}
	return true
}

// finish sends the held-back fields and the failures; the last message
// carries done.
func (j *job) finish() {
	if len(j.errs) == 0 {
		if j.pending == nil {
			j.pending = &Fields{SeqNr: j.req.SeqNr, Refs: j.srv.opts.NodeRefs}
		}
		j.pending.Done = true
		j.send(j.pending.ElementFor(j.dialect))
		return
	}
	if j.pending != nil && !j.send(j.pending.ElementFor(j.dialect)) {
		return
	}
	j.send(Failure{SeqNr: j.req.SeqNr, Done: true, Errors: j.errs}.Element())
}

// filter keeps the fields of the types and names (empty: all names).
func filter(fields []sensors.Field, types sensors.ReadoutType, names []string) []sensors.Field {
	out := fields[:0:0]
	for _, f := range fields {
		if f.Types.Intersects(types) && (len(names) == 0 || contains(names, f.Name)) {
			out = append(out, f)
		}
	}
	return out
}

// filterRange keeps the fields stamped within [from, to] (zero: open).
func filterRange(fields []sensors.Field, from, to time.Time) []sensors.Field {
	out := fields[:0]
	for _, f := range fields {
		if (from.IsZero() || !f.Timestamp.Before(from)) && (to.IsZero() || !f.Timestamp.After(to)) {
			out = append(out, f)
		}
	}
	return out
}

// intersect returns the requested names that are allowed; no request
// means every allowed name.
func intersect(requested, allowed []string) []string {
	if len(requested) == 0 {
		return append([]string{}, allowed...)
	}
	out := []string{}
	for _, r := range requested {
		if contains(allowed, r) {
			out = append(out, r)
		}
	}
	return out
}
