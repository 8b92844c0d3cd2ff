package component

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/xiot/xiot/concentrator/mqttbridge"
	"github.com/xiot/xiot/sensors"
	"github.com/xiot/xiot/sensors/history"
	"github.com/xiot/xiot/sensors/sensordata"
)

// Historical readouts of bridged devices: every value the bridge receives
// is recorded in one history store (Options.History), its series named
// "<device id>/<node>/<field>" by storing the field under the node
// "<device id>/<node>" ("<device id>" for the device's own fields), and
// each device's XEP-0323 server answers historical readouts from its own
// series.

// historyBatch bounds the values written in one transaction, and
// historyFlush how long a value waits for others to share it.
const (
	historyBatch = 512
	historyFlush = time.Second
	// historyBuffer is the room for values between two transactions; a
	// storm beyond it loses values from the history (counted by the
	// bridge as dropped events), never from the momentary readouts.
	historyBuffer = 8192
	// historyPrune is how often samples beyond history.max_age go.
	historyPrune = time.Hour
)

// storeNode is the store's node name of a device's field node.
func storeNode(dev, node string) string {
	if node == "" {
		return dev
	}
	return dev + "/" + node
}

// recordHistory writes the bridge's values to store until ctx ends, in
// batches, and flushes what it holds when it ends.
func (c *Component) recordHistory(ctx context.Context, store *history.Store) {
	events, unsubscribe := c.b.Subscribe(historyBuffer)
	defer unsubscribe()
	batch := make([]sensors.Field, 0, historyBatch)
	tick := time.NewTicker(historyFlush)
	defer tick.Stop()
	var lastPrune time.Time // zero: prune at the first tick
	flush := func() {
		if len(batch) == 0 {
			return
		}
		if err := store.Append(batch); err != nil {
			// One bad value refuses the whole transaction: store the
			// others one by one and report the bad ones.
			for _, f := range batch {
				if err := store.Append([]sensors.Field{f}); err != nil {
					c.log.Warn("history: value not recorded", "node", f.Node, "field", f.Name, "err", err)
				}
			}
		}
		batch = batch[:0]
	}
	defer flush()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			flush()
			if now.Sub(lastPrune) >= historyPrune {
				lastPrune = now
				if n, err := store.Prune(now); err != nil {
					c.log.Warn("history: prune", "err", err)
				} else if n > 0 {
					c.log.Debug("history: pruned old samples", "samples", n)
				}
			}
		case e, ok := <-events:
			if !ok {
				return
			}
			if e.Kind != mqttbridge.EventField {
				continue
			}
			f := e.Field
			f.Node = storeNode(e.Device, f.Node)
			batch = append(batch, f)
			if len(batch) >= historyBatch {
				flush()
			}
		}
	}
}

// deviceHistory answers a device's historical readouts from the store.
type deviceHistory struct {
	store *history.Store
	dev   string
	nodes func() []string // the device's field nodes, "" first
}

// Query implements sensordata's history source: nodes are the device's
// node ids ("" for the device itself), mapped to and from store nodes.
func (h deviceHistory) Query(ctx context.Context, nodes, fields []string, from, to time.Time, types sensors.ReadoutType) ([]sensors.Field, error) {
	if len(nodes) == 0 {
		nodes = h.nodes()
	}
	keys := make([]string, len(nodes))
	for i, n := range nodes {
		keys[i] = storeNode(h.dev, n)
	}
	out, err := h.store.Historical(ctx, types, keys, fields, from, to)
	if err != nil {
		return nil, err
	}
	for i := range out {
		n, ok := strings.CutPrefix(out[i].Node, h.dev)
		if !ok || (n != "" && n[0] != '/') {
			return nil, errors.New("history: a series outside the device answered")
		}
		out[i].Node = strings.TrimPrefix(n, "/")
	}
	return out, nil
}

// history returns the device's history source, nil without a store.
func (d *device) history() sensordata.History {
	if d.c.opts.History == nil {
		return nil
	}
	return deviceHistory{store: d.c.opts.History, dev: d.id, nodes: func() []string {
		dev, _ := d.snapshot()
		return nodesOf(dev)
	}}
}

// rootHistory returns the history source of readouts addressed to the
// concentrator's JID, whose node ids ("<device>" and "<device>/<node>")
// are the store's node names; nil without a store.
func (c *Component) rootHistory() sensordata.History {
	if c.opts.History == nil {
		return nil
	}
	return rootHistory{c.opts.History}
}

// rootHistory answers historical readouts of named nodes of the tree.
type rootHistory struct{ store *history.Store }

// Query implements sensordata.History; a request naming no node gets
// nothing (readouts of the concentrator JID always name their nodes).
func (h rootHistory) Query(ctx context.Context, nodes, fields []string, from, to time.Time, types sensors.ReadoutType) ([]sensors.Field, error) {
	if len(nodes) == 0 {
		return nil, nil
	}
	return h.store.Historical(ctx, types, nodes, fields, from, to)
}
