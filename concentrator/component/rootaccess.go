package component

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/sensors"
	"github.com/xiot/xiot/sensors/sensordata"
)

// Access on the concentrator's own JID, device by device. The owners
// (Options.Owners) may do everything. Without provisioning nobody else
// may do anything. With provisioning, a request for a device's nodes gets
// that device's own decision, as if sent to the device's JID: its claimed
// owner is served, and the provisioning server decides for everybody else
// (device.canRead, device.canControl). Everything fails closed: a node
// whose device gives no decision is not read, a set naming one is refused.

// rootGrant holds the decisions made for one readout of the concentrator
// JID: its sensors and history consult it, so that each node is read
// only when its own device allows it.
type rootGrant struct {
	mu   sync.Mutex
	all  bool                   // an owner: every node, every field
	devs map[string]deviceGrant // device id → decision
}

// deviceGrant is one device's decision: err refuses; fields limits the
// fields read (nil: all).
type deviceGrant struct {
	err    error
	fields []string
}

// decided returns the decision about a device; a device never asked
// about is refused.
func (g *rootGrant) decided(dev string) deviceGrant {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.all {
		return deviceGrant{}
	}
	if dg, ok := g.devs[dev]; ok {
		return dg
	}
	return deviceGrant{err: errNotOwner}
}

// filter keeps the fields of dev that its decision allows.
func (g *rootGrant) filter(dev string, fs []sensors.Field) ([]sensors.Field, error) {
	dg := g.decided(dev)
	if dg.err != nil {
		return nil, fmt.Errorf("InsufficientPrivileges: %w", dg.err)
	}
	if dg.fields == nil {
		return fs, nil
	}
	kept := fs[:0]
	for _, f := range fs {
		if slices.Contains(dg.fields, f.Name) {
			kept = append(kept, f)
		}
	}
	return kept, nil
}

// deviceNodes groups the tree ids of nodes by device: for each device id,
// its readout and control node names, nil when the device node itself is
// among them (the whole device). Ids that are no device node are left out
// (they fail on their own).
func (c *Component) deviceNodes(nodes []string) (map[string][]string, []string) {
	groups := map[string][]string{}
	whole := map[string]bool{}
	var order []string
	for _, id := range nodes {
		n, ok := c.lookupNode(SourceID, id)
		if !ok {
			continue
		}
		dev := n.dev.ID
		if _, seen := groups[dev]; !seen && !whole[dev] {
			order = append(order, dev)
		}
		switch {
		case n.node == "":
			whole[dev] = true
			groups[dev] = nil
		case !whole[dev]:
			groups[dev] = append(groups[dev], n.node)
		}
	}
	return groups, order
}

// rootCanRead returns the XEP-0323 authorizer of one readout of the
// concentrator JID: it asks each device named for its decision and
// records them in g; the readout is refused only when no device allows
// it (the others' nodes then fail one by one).
func (c *Component) rootCanRead(g *rootGrant) sensordata.Authorizer {
	return func(ctx context.Context, from jid.JID, nodes, fields []string) ([]string, error) {
		if c.isOwner(from) {
			g.mu.Lock()
			g.all = true
			g.mu.Unlock()
			return nil, nil
		}
		if c.prov == nil {
			return nil, errNotOwner
		}
		groups, order := c.deviceNodes(nodes)
		var firstErr error
		allowed := 0
		for _, id := range order {
			dg := deviceGrant{err: errNotOwner}
			if d := c.deviceByID(id); d != nil {
				dg.fields, dg.err = d.canRead(ctx, from, groups[id], fields)
				if dg.err == nil && dg.fields != nil && len(dg.fields) == 0 {
					dg.err = errors.New("no field allowed")
				}
			}
			if dg.err == nil {
				allowed++
			} else if firstErr == nil {
				firstErr = fmt.Errorf("device %q: %w", id, dg.err)
			}
			g.mu.Lock()
			g.devs[id] = dg
			g.mu.Unlock()
		}
		if allowed == 0 {
			if firstErr == nil {
				firstErr = errNotOwner
			}
			c.log.Info("readout of the concentrator refused", "from", from.String(), "err", firstErr)
			return nil, errNotOwner
		}
		return nil, nil
	}
}

// rootCanControl is the XEP-0325 authorizer of sets and forms addressed
// to the concentrator JID: every device named must allow the set, and
// the parameters allowed are those every one of them allows.
func (c *Component) rootCanControl(ctx context.Context, from jid.JID, nodes, params []string) ([]string, error) {
	if c.isOwner(from) {
		return params, nil
	}
	if c.prov == nil {
		return nil, errNotOwner
	}
	groups, order := c.deviceNodes(nodes)
	if len(order) == 0 {
		return nil, errNotOwner
	}
	allowed := params
	for _, id := range order {
		d := c.deviceByID(id)
		if d == nil {
			return nil, errNotOwner
		}
		got, err := d.canControl(ctx, from, groups[id], params)
		if err != nil {
			c.log.Info("set through the concentrator refused", "device", id, "from", from.String(), "err", err)
			return nil, err
		}
		allowed = slices.DeleteFunc(slices.Clone(allowed), func(p string) bool { return !slices.Contains(got, p) })
	}
	return allowed, nil
}

// grantedHistory answers the historical readouts of one request from
// the nodes its devices allow, with the fields they allow.
type grantedHistory struct {
	c     *Component
	inner sensordata.History
	g     *rootGrant
}

// Query implements sensordata.History.
func (h grantedHistory) Query(ctx context.Context, nodes, fields []string, from, to time.Time, types sensors.ReadoutType) ([]sensors.Field, error) {
	var kept []string
	for _, id := range nodes {
		if n, ok := h.c.lookupNode(SourceID, id); ok && h.g.decided(n.dev.ID).err == nil {
			kept = append(kept, id)
		}
	}
	if len(kept) == 0 {
		return nil, nil
	}
	fs, err := h.inner.Query(ctx, kept, fields, from, to, types)
	if err != nil {
		return nil, err
	}
	out := fs[:0]
	for _, f := range fs {
		n, ok := h.c.lookupNode(SourceID, f.Node)
		if !ok {
			continue
		}
		if one, _ := h.g.filter(n.dev.ID, []sensors.Field{f}); len(one) == 1 {
			out = append(out, f)
		}
	}
	return out, nil
}

// mayBrowse reports whether from may see the node n of the tree: the
// owners see everything; with provisioning, a device's claimed owner
// sees its nodes (the provisioning server is not asked: XEP-0324 has no
// question for browsing, and the answer would have to wait off the
// reading goroutine). Topic mappings and brokers are the owners' alone.
func (c *Component) mayBrowse(from jid.JID, n treeNode) bool {
	if c.isOwner(from) {
		return true
	}
	if c.prov == nil || n.src != SourceID {
		return false
	}
	d := c.deviceByID(n.dev.ID)
	return d != nil && d.trusts(from)
}

// browsing are the XEP-0326 commands open to a device's claimed owner
// for that device's nodes: they read, and change nothing.
var browsing = map[string]bool{
	"getCapabilities": true, "getAllDataSources": true, "getRootDataSources": true, "getChildDataSources": true,
	"containsNode": true, "containsNodes": true, "getNode": true, "getNodes": true, "getAllNodes": true,
	"getRootNodes": true, "getChildNodes": true, "getAncestors": true, "getNodeInheritance": true,
}

// mayBrowseAny reports whether from may see at least one node: the
// owners, and with provisioning the claimed owner of some device.
func (c *Component) mayBrowseAny(from jid.JID) bool {
	if c.isOwner(from) {
		return true
	}
	if c.prov == nil {
		return false
	}
	for _, dev := range c.b.Devices() {
		if c.mayBrowse(from, treeNode{src: SourceID, dev: dev}) {
			return true
		}
	}
	return false
}

// visible keeps the nodes from may see.
func (c *Component) visible(from jid.JID, nodes []treeNode) []treeNode {
	if c.isOwner(from) {
		return nodes
	}
	return slices.DeleteFunc(nodes, func(n treeNode) bool { return !c.mayBrowse(from, n) })
}
