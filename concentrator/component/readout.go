package component

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/xiot/xiot/concentrator/mqttbridge"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/sensors"
	"github.com/xiot/xiot/sensors/sensordata"
)

// nodeSensor is a sensors.Sensor over one node of a bridged device: it
// reads the last values the bridge holds, with their own timestamps.
type nodeSensor struct {
	b         *mqttbridge.Bridge
	dev, node string
}

// String names the device and node.
func (s *nodeSensor) String() string { return "MQTT{" + s.dev + "/" + s.node + "}" }

// Node is the field node ("" for the device itself).
func (s *nodeSensor) Node() string { return s.node }

// Halt does nothing: the bridge is shared.
func (s *nodeSensor) Halt() error { return nil }

// Fields lists the node's known fields.
func (s *nodeSensor) Fields() []sensors.FieldSpec {
	dev, _ := s.b.Device(s.dev)
	var out []sensors.FieldSpec
	for _, f := range dev.Fields {
		if f.Node != s.node {
			continue
		}
		types := f.Types
		if types == 0 {
			types = sensors.Momentary
		}
		out = append(out, sensors.FieldSpec{Name: f.Name, Kind: f.Value.Kind(), Unit: f.Unit, Decimals: f.Decimals,
			Types: types, DataType: f.Value.DataType(), Writable: f.Writable})
	}
	return out
}

// Read returns the node's last values, or an error when the device is
// unknown or unavailable (its values may be stale).
func (s *nodeSensor) Read(ctx context.Context, types sensors.ReadoutType) ([]sensors.Field, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	dev, ok := s.b.Device(s.dev)
	if !ok {
		return nil, fmt.Errorf("MQTT device %q: %w", s.dev, mqttbridge.ErrUnknownDevice)
	}
	if !dev.Available {
		why := "the MQTT broker is not connected"
		if dev.Reported == mqttbridge.AvailabilityOffline {
			why = "the device reported itself offline"
		}
		return nil, fmt.Errorf("MQTT device %q is unavailable since %s: %s", s.dev, dev.Since.UTC().Format(time.RFC3339), why)
	}
	var out []sensors.Field
	for _, f := range dev.Fields {
		if f.Node == s.node {
			if f.Types == 0 {
				f.Types = sensors.Momentary
			}
			out = append(out, f)
		}
	}
	return sensors.Filter(out, types), nil
}

// readServer is a sensordata.Server for one set of nodes, with the mux
// it registered on.
type readServer struct {
	srv *sensordata.Server
	mux *xmpp.Mux
}

// nodesOf lists the distinct field nodes of dev, the device itself first.
func nodesOf(dev mqttbridge.Device) []string {
	nodes := []string{""}
	for _, f := range dev.Fields {
		if !slices.Contains(nodes, f.Node) {
			nodes = append(nodes, f.Node)
		}
	}
	return nodes
}

// readServer returns the device's XEP-0323 server, built anew when the
// device's nodes changed (Homie nodes are discovered over time). A
// replaced server is closed once its readouts are done.
func (d *device) readServer() *readServer {
	dev, _ := d.snapshot()
	nodes := nodesOf(dev)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.reader != nil && slices.Equal(nodes, d.nodes) {
		return d.reader
	}
	ss := make([]sensors.Sensor, len(nodes))
	for i, n := range nodes {
		ss[i] = &nodeSensor{b: d.c.b, dev: d.id, node: n}
	}
	rs := &readServer{
		srv: sensordata.NewServer(ss, sensordata.Options{ReadTimeout: d.c.opts.ReadTimeout, CanRead: d.canRead, Logger: d.c.log, History: d.history()}),
		mux: &xmpp.Mux{},
	}
	rs.srv.Register(rs.mux)
	if old := d.reader; old != nil {
		go retire(old.srv, 2*d.c.opts.ReadTimeout)
	}
	d.reader, d.nodes = rs, nodes
	return rs
}

// retire closes a replaced server once its readouts are done, or after
// grace.
func retire(srv *sensordata.Server, grace time.Duration) {
	end := time.Now().Add(grace)
	for srv.Pending() > 0 && time.Now().Before(end) {
		time.Sleep(50 * time.Millisecond)
	}
	_ = srv.Close()
}

// handleReadout passes XEP-0323 req and cancel to the device's server.
func (d *device) handleReadout(ctx context.Context, s *xmpp.Session, iq *xmpp.Element) error {
	return d.readServer().mux.HandleStanza(ctx, s, iq)
}

// close stops the device's readout server.
func (d *device) close() {
	d.mu.Lock()
	rs := d.reader
	d.reader = nil
	d.mu.Unlock()
	if rs != nil {
		_ = rs.srv.Close()
	}
}
