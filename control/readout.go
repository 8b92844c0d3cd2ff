package control

import (
	"context"
	"strings"

	"github.com/xiot/xiot/sensors"
)

// Kind returns the XEP-0323 value kind a parameter of type t is read out
// as: double becomes numeric and color a string (XEP-0325 §
// "Harmonization with XEP-0323"); the others keep their name.
func (t Type) Kind() sensors.Kind {
	switch t {
	case TypeDouble:
		return sensors.KindNumeric
	case TypeColor:
		return sensors.KindString
	}
	k, _ := sensors.ParseKind(t.String())
	return k
}

// Fields returns the current values as XEP-0323 status fields marked
// writable, stamped with the Controller's clock, for sensor-data readouts.
func (c *Controller) Fields() []sensors.Field {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.opts.Now()
	out := make([]sensors.Field, 0, len(c.points))
	for _, p := range c.points {
		out = append(out, p.spec().Field(p.Param.Node, p.cur.Sensor(), now, sensors.QoSAutomaticReadout))
	}
	return out
}

func (p *point) spec() sensors.FieldSpec {
	return sensors.FieldSpec{Name: p.Param.Name, Kind: p.Param.Type.Kind(), Decimals: decimalsOf(p.cur), Types: sensors.Status, Writable: true}
}

// decimalsOf keeps the digits a double needs in a numeric field.
func decimalsOf(v Value) int {
	if v.Type() != TypeDouble {
		return 0
	}
	s := v.String()
	if i := strings.IndexByte(s, '.'); i >= 0 && !strings.ContainsAny(s, "eE") {
		return min(len(s)-i-1, 15)
	}
	return 0
}

// Sensors returns one sensors.Sensor per node with parameters, reading
// their current values as writable status fields, so that a XEP-0323
// server lists control parameters beside measurements (the "writable"
// correlation of XEP-0325 §"Reading current control states").
func (c *Controller) Sensors() []sensors.Sensor {
	var out []sensors.Sensor
	for _, n := range c.Nodes() {
		out = append(out, &paramSensor{c: c, node: n})
	}
	return out
}

// paramSensor reads a Controller's parameters of one node.
type paramSensor struct {
	c    *Controller
	node string
}

func (s *paramSensor) String() string { return "control{" + s.node + "}" }
func (s *paramSensor) Node() string   { return s.node }
func (s *paramSensor) Halt() error    { return nil }

func (s *paramSensor) Fields() []sensors.FieldSpec {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	var out []sensors.FieldSpec
	for _, p := range s.c.points {
		if p.Param.Node == s.node {
			out = append(out, p.spec())
		}
	}
	return out
}

func (s *paramSensor) Read(ctx context.Context, types sensors.ReadoutType) ([]sensors.Field, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []sensors.Field
	for _, f := range s.c.Fields() {
		if f.Node == s.node {
			out = append(out, f)
		}
	}
	return sensors.Filter(out, types), nil
}
