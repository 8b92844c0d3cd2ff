package sensordata

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/sensors"
)

// ErrCancelled is returned by Readout.Wait after a successful Cancel.
var ErrCancelled = errors.New("sensordata: readout cancelled")

// Client reads sensor data from devices. Create it before the session with
// the session's mux, so that it receives the readout messages.
type Client struct {
	mu      sync.Mutex
	seq     int32
	pending map[int32]*Readout
}

// NewClient returns a Client receiving readout messages through mux.
func NewClient(mux *xmpp.Mux) *Client {
	c := &Client{pending: map[int32]*Readout{}}
	mux.Message(NS, "", xmpp.HandlerFunc(c.handleMessage))
	return c
}

// Result is what a readout returned: fields in the order received and the
// errors of nodes that failed.
type Result struct {
	Fields []sensors.Field
	Errors []NodeError
	// Queued tells that the device queued the request; Started that it
	// then announced the start.
	Queued, Started bool
}

// Err returns the node errors joined, or nil.
func (r Result) Err() error {
	var errs []error
	for _, e := range r.Errors {
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

// Readout is a request in progress.
type Readout struct {
	// SeqNr is the sequence number the client chose.
	SeqNr int32

	c    *Client
	s    *xmpp.Session
	to   string
	peer string // bare JID of the device

	mu     sync.Mutex
	res    Result
	err    error
	done   chan struct{}
	closed bool
	update chan struct{}
}

// Request sends r to the device at the full JID to and returns once the
// device accepted it; the fields then arrive in the background (see Wait).
// The client chooses r.SeqNr. A refusal is returned as the device's
// *xmpp.StanzaError, or a Rejected from a device of the older draft.
func (c *Client) Request(ctx context.Context, s *xmpp.Session, to string, r Request) (*Readout, error) {
	ro, iq, err := c.prepare(s, to, r)
	if err != nil {
		return nil, err
	}
	// The answer is awaited on this goroutine, off the session's reader:
	// results that come before it (XEP-0323 §3 lets a device send them
	// first) are collected meanwhile.
	if err := ro.await(ctx, s, iq); err != nil {
		select {
		case <-ro.done:
			// Complete already; the answer was lost or late.
			return ro, nil
		default:
		}
		ro.finish(err)
		return nil, err
	}
	return ro, nil
}

// prepare registers a readout for r and builds its request IQ.
func (c *Client) prepare(s *xmpp.Session, to string, r Request) (*Readout, *xmpp.Element, error) {
	peer, err := jid.Parse(to)
	if err != nil {
		return nil, nil, fmt.Errorf("sensordata: device address %q: %w", to, err)
	}
	c.mu.Lock()
	for {
		c.seq++
		if c.seq <= 0 {
			c.seq = 1
		}
		if c.pending[c.seq] == nil {
			break
		}
	}
	r.SeqNr = c.seq
	ro := &Readout{SeqNr: r.SeqNr, c: c, s: s, to: to, peer: peer.Bare().String(),
		done: make(chan struct{}), update: make(chan struct{}, 1)}
	c.pending[r.SeqNr] = ro
	c.mu.Unlock()

	iq := xmpp.NewElement("", "iq", "type", "get", "to", to).Add(r.Element())
	return ro, iq, nil
}

// await sends the request IQ and reads the answer: accepted, or a refusal
// returned as error.
func (r *Readout) await(ctx context.Context, s *xmpp.Session, iq *xmpp.Element) error {
	to := r.to
	res, err := s.SendIQ(ctx, iq)
	if err != nil {
		// A device of the older draft refuses with rejected alone; one of
		// ours sends an RFC 6120 condition beside it, which wins.
		var se *xmpp.StanzaError
		if res != nil && errors.As(err, &se) && se.Condition == "undefined-condition" {
			if rej := res.Child(NS, "rejected"); rej != nil {
				if v, perr := Parse(rej); perr == nil {
					return v.(Rejected)
				}
			}
		}
		return fmt.Errorf("sensordata: readout request to %s: %w", to, err)
	}
	if a := res.Child(NS, "accepted"); a != nil {
		if v, err := Parse(a); err == nil {
			r.mu.Lock()
			r.res.Queued = v.(Accepted).Queued
			r.mu.Unlock()
		}
	}
	// A result without accepted is a device that omits it.
	return nil
}

// Read requests r from the device at to and waits for the whole result.
//
// A device may send its results before it answers the request (XEP-0323
// §3: the client may then infer acceptance), so Read returns as soon as
// the readout is done, without waiting for that answer; a refusal that
// comes first is returned as Request returns it.
func (c *Client) Read(ctx context.Context, s *xmpp.Session, to string, r Request) (Result, error) {
	ro, iq, err := c.prepare(s, to, r)
	if err != nil {
		return Result{}, err
	}
	answered := make(chan error, 1)
	go func() { answered <- ro.await(ctx, s, iq) }()
	select {
	case <-ro.done:
	case err := <-answered:
		if err != nil {
			select {
			case <-ro.done:
			default:
				ro.finish(err)
				return Result{}, err
			}
		}
	case <-ctx.Done():
	}
	return ro.Wait(ctx)
}

// Wait returns the result once the device marked the readout done. When
// ctx ends first it returns what arrived so far with ctx's error; the
// readout is then forgotten (cancel it first to tell the device).
func (r *Readout) Wait(ctx context.Context) (Result, error) {
	select {
	case <-r.done:
	case <-ctx.Done():
		r.finish(fmt.Errorf("sensordata: readout %d from %s: %w", r.SeqNr, r.to, ctx.Err()))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.res, r.err
}

// Updates returns a channel that receives a value (at most one pending)
// whenever fields, errors or a start arrive, for progress displays.
func (r *Readout) Updates() <-chan struct{} { return r.update }

// Progress returns the number of fields and node errors received so far.
func (r *Readout) Progress() (fields, errs int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.res.Fields), len(r.res.Errors)
}

// Done is closed when the readout is complete, cancelled or abandoned.
func (r *Readout) Done() <-chan struct{} { return r.done }

// Cancel asks the device to cancel the readout; on confirmation Wait
// returns ErrCancelled.
func (r *Readout) Cancel(ctx context.Context) error {
	iq := xmpp.NewElement("", "iq", "type", "get", "to", r.to).Add(Cancel{SeqNr: r.SeqNr}.Element())
	res, err := r.s.SendIQ(ctx, iq)
	if err != nil {
		return fmt.Errorf("sensordata: cancel readout %d at %s: %w", r.SeqNr, r.to, err)
	}
	if res.Child(NS, "cancelled") == nil {
		return fmt.Errorf("sensordata: cancel readout %d at %s: answer without cancelled", r.SeqNr, r.to)
	}
	r.finish(ErrCancelled)
	return nil
}

func (r *Readout) finish(err error) {
	r.mu.Lock()
	if !r.closed {
		r.closed, r.err = true, err
		close(r.done)
	}
	r.mu.Unlock()
	r.c.forget(r)
}

func (r *Readout) notify() {
	select {
	case r.update <- struct{}{}:
	default:
	}
}

func (c *Client) forget(r *Readout) {
	c.mu.Lock()
	if c.pending[r.SeqNr] == r {
		delete(c.pending, r.SeqNr)
	}
	c.mu.Unlock()
}

// handleMessage collects started, fields, failure and done messages; it
// runs on the session's reading goroutine and never blocks.
func (c *Client) handleMessage(_ context.Context, _ *xmpp.Session, msg *xmpp.Element) error {
	if msg.Get("type") == "error" {
		return nil
	}
	from, _ := jid.Parse(msg.Get("from"))
	for _, child := range msg.Children() {
		if child.Name.Space != NS {
			continue
		}
		v, err := Parse(child)
		if err != nil {
			return fmt.Errorf("sensordata: message from %s: %w", from, err)
		}
		var seq int32
		switch v := v.(type) {
		case Fields:
			seq = v.SeqNr
		case Failure:
			seq = v.SeqNr
		case Started:
			seq = v.SeqNr
		case Done:
			seq = v.SeqNr
		default:
			continue
		}
		c.mu.Lock()
		r := c.pending[seq]
		c.mu.Unlock()
		if r == nil || r.peer != from.Bare().String() {
			continue // not ours, or already finished
		}
		finished := false
		r.mu.Lock()
		switch v := v.(type) {
		case Fields:
			r.res.Fields = append(r.res.Fields, v.Fields...)
			finished = v.Done
		case Failure:
			r.res.Errors = append(r.res.Errors, v.Errors...)
			finished = v.Done
		case Started:
			r.res.Started = true
		case Done:
			finished = true
		}
		r.mu.Unlock()
		r.notify()
		if finished {
			r.finish(nil)
		}
	}
	return nil
}
