package component

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/control/iotcontrol"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/sensors"
	"github.com/xiot/xiot/sensors/sensordata"
)

// Readouts (XEP-0323) and sets (XEP-0325) of many nodes in one request,
// addressed to the component's own JID with <node nodeId=… sourceId=…/>
// elements (XEP-0326 §"Reading devices from large subsystems"). Node ids
// are those of the node tree: a device id, or "<device>/<node>".

// maxRootReads bounds the readouts of the concentrator JID in progress at
// once (each one holds a sensordata.Server of its own).
const maxRootReads = 32

// rootReads tracks the readouts of the concentrator JID in progress, by
// requester and seqnr, so that cancel finds them.
type rootReads struct {
	mu   sync.Mutex
	jobs map[string]*sensordata.Server
}

func readKey(from string, seq int32) string { return from + "\x00" + strconv.FormatInt(int64(seq), 10) }

// treeSensor reads one node of the tree: a nodeSensor whose fields carry
// the node's tree id, so that the fields element tags them with it, and
// only what its device's decision in g allows.
type treeSensor struct {
	nodeSensor
	id string
	g  *rootGrant
}

// Node is the node's tree id.
func (s *treeSensor) Node() string { return s.id }

// Read returns the node's values, tagged with the tree id.
func (s *treeSensor) Read(ctx context.Context, types sensors.ReadoutType) ([]sensors.Field, error) {
	if _, err := s.g.filter(s.dev, nil); err != nil {
		return nil, err
	}
	f, err := s.nodeSensor.Read(ctx, types)
	f, _ = s.g.filter(s.dev, f)
	for i := range f {
		f[i].Node = s.id
	}
	return f, err
}

// missingSensor stands for a requested node that does not exist: reading
// it fails, so the readout reports the node in its failure element (the
// per-node error of XEP-0323) while the other nodes are read.
type missingSensor struct {
	id, why string
	names   []string
}

func (s *missingSensor) String() string { return "node " + strconv.Quote(s.id) }
func (s *missingSensor) Node() string   { return s.id }
func (s *missingSensor) Halt() error    { return nil }

// Fields claims the requested names (or one nameless field) of every
// type, so that the server reads the node and reports it.
func (s *missingSensor) Fields() []sensors.FieldSpec {
	if len(s.names) == 0 {
		return []sensors.FieldSpec{{Kind: sensors.KindNumeric, Types: sensors.AllTypes}}
	}
	out := make([]sensors.FieldSpec, len(s.names))
	for i, n := range s.names {
		out[i] = sensors.FieldSpec{Name: n, Kind: sensors.KindNumeric, Types: sensors.AllTypes}
	}
	return out
}

func (s *missingSensor) Read(context.Context, sensors.ReadoutType) ([]sensors.Field, error) {
	return nil, fmt.Errorf("NotFound: %s", s.why)
}

// sourceOK reports whether a request's source id names the device source;
// XEP-0323 lets a unique node id stand alone.
func sourceOK(source string) bool { return source == "" || source == SourceID }

// readTargets expands the nodes of a readout request into sensors and the
// node list actually read: a device node brings its field nodes along
// (XEP-0323 §"Multiple devices behind a JID": a supernode's readout
// includes its subnodes), an unknown node becomes a missingSensor. No
// nodes means every node of the source. It refuses more than maxNodes.
func (c *Component) readTargets(req sensordata.Request, g *rootGrant) ([]sensors.Sensor, []sensordata.NodeRef, *xmpp.StanzaError) {
	var ss []sensors.Sensor
	var refs []sensordata.NodeRef // the nodes read; their SourceID is written beside their ids
	seen := map[string]bool{}
	add := func(n treeNode) {
		if seen[n.id()] {
			return
		}
		seen[n.id()] = true
		ss = append(ss, &treeSensor{nodeSensor{b: c.b, dev: n.dev.ID, node: n.node}, n.id(), g})
		refs = append(refs, sensordata.NodeRef{NodeID: n.id(), SourceID: SourceID})
	}
	addTree := func(n treeNode) {
		add(n)
		if n.node == "" {
			for _, fn := range nodesOf(n.dev)[1:] {
				add(treeNode{dev: n.dev, node: fn})
			}
		}
	}
	if len(req.Nodes) == 0 {
		for _, dev := range c.b.Devices() {
			addTree(treeNode{dev: dev})
			if len(ss) > maxNodes {
				break
			}
		}
	}
	for i, r := range req.Nodes {
		if i > maxNodes {
			break
		}
		n, ok := c.lookupNode(SourceID, r.NodeID)
		if ok && sourceOK(r.SourceID) {
			addTree(n)
			continue
		}
		if seen[r.NodeID] {
			continue
		}
		why := "no node " + strconv.Quote(r.NodeID) + " in data source " + strconv.Quote(SourceID)
		if !sourceOK(r.SourceID) {
			why = "no data source " + strconv.Quote(r.SourceID)
		}
		seen[r.NodeID] = true
		ss = append(ss, &missingSensor{id: r.NodeID, why: why, names: req.Fields})
		refs = append(refs, sensordata.NodeRef{NodeID: r.NodeID, SourceID: r.SourceID})
	}
	if len(ss) > maxNodes {
		return nil, nil, xmpp.NewStanzaError("wait", "resource-constraint",
			fmt.Sprintf("a readout of more than %d nodes: name fewer nodes", maxNodes))
	}
	return ss, refs, nil
}

// handleRootReadout serves a XEP-0323 req to the concentrator JID with a
// sensordata.Server built for the request's nodes, closed when the
// readout ends.
func (c *Component) handleRootReadout(ctx context.Context, s *xmpp.Session, iq *xmpp.Element) error {
	req, err := sensordata.ParseRequest(iq.FirstChild())
	if err != nil {
		// The server refuses it with its own bad-request and rejected.
		srv := sensordata.NewServer(nil, sensordata.Options{})
		defer srv.Close()
		m := &xmpp.Mux{}
		srv.Register(m)
		return m.HandleStanza(ctx, s, iq)
	}
	// The server asks canRead on a goroutine of its own: it may block.
	from, _ := jid.Parse(iq.Get("from"))
	g := &rootGrant{devs: map[string]deviceGrant{}}
	ss, refs, se := c.readTargets(req, g)
	if se != nil {
		return se
	}
	key := readKey(from.String(), req.SeqNr)
	rr := &c.tree.reads
	rr.mu.Lock()
	switch {
	case rr.jobs[key] != nil:
		rr.mu.Unlock()
		return xmpp.NewStanzaError("modify", "bad-request", fmt.Sprintf("seqnr %d is already in use by a readout of yours in progress", req.SeqNr))
	case len(rr.jobs) >= maxRootReads:
		rr.mu.Unlock()
		return xmpp.NewStanzaError("wait", "resource-constraint", fmt.Sprintf("too many readouts of the concentrator in progress (limit %d); retry later", maxRootReads))
	}
	var srv *sensordata.Server
	done := func() {
		rr.mu.Lock()
		if rr.jobs[key] == srv {
			delete(rr.jobs, key)
		}
		rr.mu.Unlock()
		_ = srv.Close()
	}
	byID := make(map[string]sensordata.NodeRef, len(refs))
	for _, r := range refs {
		byID[r.NodeID] = r
	}
	var hist sensordata.History
	if h := c.rootHistory(); h != nil {
		hist = grantedHistory{c: c, inner: h, g: g}
	}
	srv = sensordata.NewServer(ss, sensordata.Options{
		ReadTimeout: c.opts.ReadTimeout, CanRead: c.rootCanRead(g), Logger: c.log, NodeRefs: byID, History: hist,
		// Close waits for the job's goroutine, which calls OnDone.
		OnDone: func(time.Duration, bool) { go done() },
	})
	rr.jobs[key] = srv
	rr.mu.Unlock()
	// The request as the server reads it: the expanded node list.
	req.Nodes = refs
	fwd := xmpp.NewElement(iq.Name.Space, iq.Name.Local)
	fwd.Attr = iq.Attr
	fwd.Add(req.Element())
	m := &xmpp.Mux{}
	srv.Register(m)
	err = m.HandleStanza(ctx, s, fwd)
	if srv.Pending() == 0 {
		// Refused (or already over): OnDone may never come.
		go done()
	}
	return err
}

// handleRootCancel passes a XEP-0323 cancel to the readout it names.
func (c *Component) handleRootCancel(ctx context.Context, s *xmpp.Session, iq *xmpp.Element) error {
	seq, err := strconv.ParseInt(iq.FirstChild().Get("seqnr"), 10, 32)
	if err != nil {
		return xmpp.NewStanzaError("modify", "bad-request", "cancel without a valid seqnr")
	}
	rr := &c.tree.reads
	rr.mu.Lock()
	srv := rr.jobs[readKey(iq.Get("from"), int32(seq))]
	rr.mu.Unlock()
	if srv == nil {
		return xmpp.NewStanzaError("cancel", "item-not-found", fmt.Sprintf("no readout %d of yours in progress", seq))
	}
	m := &xmpp.Mux{}
	srv.Register(m)
	return m.HandleStanza(ctx, s, iq)
}

// rootSetTargets lists the writable fields of the nodes a set to the
// concentrator JID names, as control points named by tree id. A set must
// name its nodes: one parameter name is common to many devices, and a set
// of all of them at once is almost surely a mistake.
func (c *Component) rootSetTargets(el *xmpp.Element) ([]ctlPoint, error) {
	set, err := iotcontrol.DecodeSet(el)
	if err != nil {
		return nil, nil // Apply refuses it with its own bad-request
	}
	if len(set.Nodes) == 0 {
		return nil, xmpp.NewStanzaError("modify", "bad-request",
			"a set to the concentrator must name its nodes (<node nodeId='…' sourceId='"+SourceID+"'/>), or go to the device's JID")
	}
	var pts []ctlPoint
	seen := map[string]bool{}
	for _, r := range set.Nodes {
		n, ok := c.lookupNode(SourceID, r.NodeID)
		if !ok || !sourceOK(r.SourceID) {
			return nil, &iotcontrol.Fault{StanzaError: xmpp.NewStanzaError("cancel", "item-not-found", "Node not found: "+r.NodeID)}
		}
		if seen[n.id()] {
			continue
		}
		seen[n.id()] = true
		for _, f := range n.dev.Fields {
			if f.Writable && f.Node == n.node {
				pts = append(pts, ctlPoint{dev: n.dev.ID, field: f, node: n.id()})
			}
		}
	}
	return pts, nil
}

// applyRoot performs a set addressed to the concentrator JID.
func (c *Component) applyRoot(ctx context.Context, from jid.JID, via string, el *xmpp.Element) (iotcontrol.SetResponse, error) {
	if hasOverride(el) {
		return iotcontrol.SetResponse{}, errNoOverride
	}
	pts, err := c.rootSetTargets(el)
	if err != nil {
		return iotcontrol.SetResponse{}, err
	}
	errs := &publishErrors{}
	ctl, err := c.controller(ctx, "concentrator", pts, errs)
	if err != nil {
		return iotcontrol.SetResponse{}, err
	}
	srv := iotcontrol.NewServer(ctl, iotcontrol.ServerOptions{Title: "MQTT concentrator", CanControl: c.rootCanControl, Logger: c.log})
	resp, err := srv.Apply(ctx, from, via, el)
	if perr := errs.err(); perr != nil {
		return iotcontrol.SetResponse{}, publishFault(perr)
	}
	return resp, err
}

// handleRootSetIQ runs an IQ set to the concentrator JID on a goroutine
// of its own, as device sets do.
func (c *Component) handleRootSetIQ(ctx context.Context, s *xmpp.Session, iq *xmpp.Element) error {
	return c.runSet(ctx, s, iq, "concentrator", c.applyRoot)
}

// handleRootSetMessage runs a message set to the concentrator JID.
func (c *Component) handleRootSetMessage(ctx context.Context, s *xmpp.Session, msg *xmpp.Element) error {
	return c.runSetMessage(ctx, msg, "concentrator", c.applyRoot)
}

// handleRootGetForm answers getForm for the nodes it names.
func (c *Component) handleRootGetForm(ctx context.Context, s *xmpp.Session, iq *xmpp.Element) error {
	g, err := iotcontrol.DecodeGetForm(iq.FirstChild())
	if err != nil {
		return xmpp.NewStanzaError("modify", "bad-request", err.Error())
	}
	set := iotcontrol.SetRequest{Nodes: g.Nodes}
	pts, err := c.rootSetTargets(set.Element())
	if err != nil {
		return err
	}
	ctl, err := c.controller(ctx, "concentrator", pts, &publishErrors{})
	if err != nil {
		return err
	}
	m := &xmpp.Mux{}
	iotcontrol.NewServer(ctl, iotcontrol.ServerOptions{Title: "MQTT concentrator", CanControl: c.rootCanControl, Logger: c.log}).Register(m)
	return m.HandleStanza(ctx, s, iq)
}
