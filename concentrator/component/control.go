package component

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/concentrator/mqttbridge"
	"github.com/xiot/xiot/control"
	"github.com/xiot/xiot/control/iotcontrol"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/sensors"
)

// mqttOutput is a control.Output that sets one writable field of a
// bridged device: Write publishes the command and returns after the
// device's state echo. It is built for one request: ctx bounds its
// publishes, and writes before arm (the Controller's boot writes) are not
// published.
type mqttOutput struct {
	b               *mqttbridge.Bridge
	ctx             context.Context
	dev, node, name string
	typ             control.Type
	armed           bool
	errs            *publishErrors
}

// String names the device field.
func (o *mqttOutput) String() string {
	return "MQTT{" + o.dev + "/" + control.Key(o.node, o.name) + "}"
}

// Type is the parameter type of the field.
func (o *mqttOutput) Type() control.Type { return o.typ }

// Write publishes v and waits for the echo.
func (o *mqttOutput) Write(v control.Value) error {
	if !o.armed {
		return nil
	}
	err := o.b.Publish(o.ctx, o.dev, o.node, o.name, v.Sensor())
	o.errs.add(err)
	return err
}

// Halt does nothing: the device is not ours.
func (o *mqttOutput) Halt() error { return nil }

// publishErrors collects the errors of a request's publishes.
type publishErrors struct {
	mu   sync.Mutex
	errs []error
}

func (p *publishErrors) add(err error) {
	if err == nil {
		return
	}
	p.mu.Lock()
	p.errs = append(p.errs, err)
	p.mu.Unlock()
}

func (p *publishErrors) err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return errors.Join(p.errs...)
}

// controlType maps a field value kind to the XEP-0325 parameter type that
// sets it; ok is false for kinds XEP-0325 cannot carry.
func controlType(k sensors.Kind) (control.Type, bool) {
	switch k {
	case sensors.KindBoolean:
		return control.TypeBoolean, true
	case sensors.KindNumeric:
		return control.TypeDouble, true
	case sensors.KindInt:
		return control.TypeInt, true
	case sensors.KindLong:
		return control.TypeLong, true
	case sensors.KindString, sensors.KindEnum:
		return control.TypeString, true
	case sensors.KindDate:
		return control.TypeDate, true
	case sensors.KindDateTime:
		return control.TypeDateTime, true
	case sensors.KindTime:
		return control.TypeTime, true
	case sensors.KindDuration:
		return control.TypeDuration, true
	}
	return control.TypeNone, false
}

// controlValue converts a field value to a parameter value of type t.
func controlValue(t control.Type, v sensors.Value) control.Value {
	switch t {
	case control.TypeBoolean:
		b, _ := v.Bool()
		return control.Bool(b)
	case control.TypeDouble:
		f, _ := v.Float()
		return control.Double(f)
	case control.TypeInt:
		i, _ := v.Integer()
		return control.Int(int32(i))
	case control.TypeLong:
		i, _ := v.Integer()
		return control.Long(i)
	case control.TypeString:
		s, _ := v.Text()
		return control.String(s)
	case control.TypeDate:
		tm, _ := v.Time()
		return control.Date(tm)
	case control.TypeDateTime:
		tm, _ := v.Time()
		return control.DateTime(tm)
	case control.TypeTime:
		tm, _ := v.Time()
		return control.TimeOfDay(tm)
	case control.TypeDuration:
		d, _ := v.Duration()
		return control.Duration(d)
	}
	return control.Value{}
}

// ctlPoint is one writable field to control: the device it belongs to,
// the field, and the parameter node it is set through (the field's node
// on a device JID, its tree node id on the concentrator JID).
type ctlPoint struct {
	dev   string
	field sensors.Field
	node  string
}

// devicePoints lists the writable fields of dev by their own node.
func devicePoints(dev mqttbridge.Device) []ctlPoint {
	var pts []ctlPoint
	for _, f := range dev.Fields {
		if f.Writable {
			pts = append(pts, ctlPoint{dev: dev.ID, field: f, node: f.Node})
		}
	}
	return pts
}

// controller builds a Controller over pts as they are now, with outputs
// bound to ctx; name names it in errors. It has no safety rules (see the
// package documentation).
func (c *Component) controller(ctx context.Context, name string, pts []ctlPoint, errs *publishErrors) (*control.Controller, error) {
	var points []control.Point
	var outs []*mqttOutput
	for _, p := range pts {
		f := p.field
		t, ok := controlType(f.Value.Kind())
		if !ok {
			continue
		}
		out := &mqttOutput{b: c.b, ctx: ctx, dev: p.dev, node: f.Node, name: f.Name, typ: t, errs: errs}
		outs = append(outs, out)
		points = append(points, control.Point{
			Param:   control.Param{Node: p.node, Name: f.Name, Type: t, Label: f.Name},
			Output:  out,
			Initial: controlValue(t, f.Value),
		})
	}
	ctl, err := control.New(points, control.Options{Logger: c.log})
	if err != nil {
		return nil, fmt.Errorf("component: controller of %s: %w", name, err)
	}
	ctl.Online()
	for _, o := range outs {
		o.armed = true
	}
	return ctl, nil
}

// controller builds a Controller over the device's writable fields.
func (d *device) controller(ctx context.Context, dev mqttbridge.Device, errs *publishErrors) (*control.Controller, error) {
	return d.c.controller(ctx, d.id, devicePoints(dev), errs)
}

// hasOverride reports whether a set asks for a timed override.
func hasOverride(el *xmpp.Element) bool {
	set, err := iotcontrol.DecodeSet(el)
	if err != nil {
		return false // Apply refuses it with its own error
	}
	for _, p := range set.Params {
		if p.Name == iotcontrol.OverrideParam {
			return true
		}
	}
	for _, f := range set.Form {
		if f.Var == iotcontrol.OverrideParam && len(f.Values) > 0 && f.Values[0] != "" {
			return true
		}
	}
	return false
}

// errNoOverride refuses timed overrides.
var errNoOverride = xmpp.NewStanzaError("cancel", "feature-not-implemented",
	"Timed overrides are not supported for MQTT devices: set the value, and set it back later.")

// apply performs a set on the device and returns the setResponse or the
// error to reply with.
func (d *device) apply(ctx context.Context, from jid.JID, via string, el *xmpp.Element) (iotcontrol.SetResponse, error) {
	if hasOverride(el) {
		return iotcontrol.SetResponse{}, errNoOverride
	}
	dev, ok := d.snapshot()
	if !ok {
		return iotcontrol.SetResponse{}, xmpp.NewStanzaError("cancel", "item-not-found", "unknown MQTT device "+d.id)
	}
	errs := &publishErrors{}
	ctl, err := d.controller(ctx, dev, errs)
	if err != nil {
		return iotcontrol.SetResponse{}, err
	}
	srv := iotcontrol.NewServer(ctl, iotcontrol.ServerOptions{Title: dev.Name, CanControl: d.canControl, Logger: d.c.log})
	resp, err := srv.Apply(ctx, from, via, el)
	if perr := errs.err(); perr != nil {
		return iotcontrol.SetResponse{}, publishFault(perr)
	}
	return resp, err
}

// publishFault maps a failed publish to the stanza error of the reply.
func publishFault(err error) *xmpp.StanzaError {
	switch {
	case errors.Is(err, mqttbridge.ErrNoEcho), errors.Is(err, context.DeadlineExceeded):
		return xmpp.NewStanzaError("wait", "remote-server-timeout", err.Error())
	case errors.Is(err, mqttbridge.ErrNotConnected), errors.Is(err, mqttbridge.ErrQueueFull),
		errors.Is(err, mqttbridge.ErrQueueDeadline), errors.Is(err, mqttbridge.ErrClosed):
		return xmpp.NewStanzaError("wait", "service-unavailable", err.Error())
	case errors.Is(err, mqttbridge.ErrValueType):
		return xmpp.NewStanzaError("modify", "bad-request", err.Error())
	case errors.Is(err, mqttbridge.ErrUnknownField), errors.Is(err, mqttbridge.ErrUnknownDevice):
		return xmpp.NewStanzaError("cancel", "item-not-found", err.Error())
	case errors.Is(err, mqttbridge.ErrNotWritable):
		return xmpp.NewStanzaError("cancel", "not-allowed", err.Error())
	}
	return xmpp.NewStanzaError("cancel", "internal-server-error", err.Error())
}

// errReply builds the error reply of a set: the stanza error, and the
// paramError elements of an iotcontrol.Fault.
func errReply(st *xmpp.Element, err error) *xmpp.Element {
	var f *iotcontrol.Fault
	if errors.As(err, &f) {
		r := xmpp.ErrorReply(st, f.StanzaError)
		if e := r.Child("", "error"); e != nil {
			for _, p := range f.Params {
				e.Add(p.Element())
			}
		}
		return r
	}
	return xmpp.ErrorReply(st, err)
}

// startSet takes a token for a set in progress, or refuses.
func (c *Component) startSet() bool {
	select {
	case c.sets <- struct{}{}:
		return true
	default:
		return false
	}
}

// applyFunc performs a set from from and returns the setResponse or the
// error to reply with.
type applyFunc func(ctx context.Context, from jid.JID, via string, el *xmpp.Element) (iotcontrol.SetResponse, error)

// runSet runs an IQ set on a goroutine of its own: it waits for the
// devices' echoes, which the session's reading goroutine must not. target
// names what is set in the log.
func (c *Component) runSet(ctx context.Context, s *xmpp.Session, iq *xmpp.Element, target string, apply applyFunc) error {
	if !c.startSet() {
		return xmpp.NewStanzaError("wait", "resource-constraint", "too many sets in progress")
	}
	from, _ := jid.Parse(iq.Get("from"))
	go func() {
		defer func() { <-c.sets }()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.SetTimeout)
		defer cancel()
		resp, err := apply(sctx, from, "iq", iq.FirstChild())
		var reply *xmpp.Element
		if err != nil {
			c.log.Info("control set refused", "device", target, "from", from.String(), "err", err)
			reply = errReply(iq, err)
		} else {
			c.log.Info("control set done", "device", target, "from", from.String())
			reply = xmpp.ResultIQ(iq, resp.Element())
		}
		if err := s.Send(context.WithoutCancel(ctx), reply); err != nil {
			c.log.Warn("control: sending set reply", "device", target, "to", from.String(), "err", err)
		}
	}()
	return nil
}

// runSetMessage runs a message set, which gets no answer (XEP-0325
// §3.1), on a goroutine of its own.
func (c *Component) runSetMessage(ctx context.Context, msg *xmpp.Element, target string, apply applyFunc) error {
	if msg.Get("type") == "error" {
		return nil
	}
	if !c.startSet() {
		c.log.Warn("control set message dropped: too many sets in progress", "device", target, "from", msg.Get("from"))
		return nil
	}
	from, _ := jid.Parse(msg.Get("from"))
	go func() {
		defer func() { <-c.sets }()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.SetTimeout)
		defer cancel()
		if _, err := apply(sctx, from, "message", msg.Child(iotcontrol.NS, "set")); err != nil {
			c.log.Info("control set message refused", "device", target, "from", from.String(), "err", err)
		}
	}()
	return nil
}

// handleSetIQ runs an IQ set to the device.
func (d *device) handleSetIQ(ctx context.Context, s *xmpp.Session, iq *xmpp.Element) error {
	return d.c.runSet(ctx, s, iq, d.id, d.apply)
}

// handleSetMessage runs a message set to the device.
func (d *device) handleSetMessage(ctx context.Context, _ *xmpp.Session, msg *xmpp.Element) error {
	return d.c.runSetMessage(ctx, msg, d.id, d.apply)
}

// handleGetForm answers getForm from a controller of the device's current
// fields.
func (d *device) handleGetForm(ctx context.Context, s *xmpp.Session, iq *xmpp.Element) error {
	dev, ok := d.snapshot()
	if !ok {
		return xmpp.NewStanzaError("cancel", "item-not-found", "unknown MQTT device "+d.id)
	}
	ctl, err := d.controller(ctx, dev, &publishErrors{})
	if err != nil {
		return err
	}
	m := &xmpp.Mux{}
	iotcontrol.NewServer(ctl, iotcontrol.ServerOptions{Title: dev.Name, CanControl: d.canControl, Logger: d.c.log}).Register(m)
	return m.HandleStanza(ctx, s, iq)
}
