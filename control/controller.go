package control

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Point is one controllable parameter: its declaration, the output that
// applies it and the safety rules around it.
type Point struct {
	Param  Param
	Output Output
	Safety Safety
	// Initial is the value written at boot when Safety.Failsafe is unset
	// (virtual parameters such as setpoints); one of the two is required.
	Initial Value
}

// Safety are the demand-response rules of one output.
type Safety struct {
	// Failsafe is the value written at boot, on shutdown and when the
	// connection has been lost for Grace; the zero Value means the
	// parameter has no failsafe (it keeps its value).
	Failsafe Value
	// Grace is how long the connection may be lost before Failsafe is
	// applied; 0 applies it at once.
	Grace time.Duration
	// MinOn and MinOff are the shortest times a boolean output stays on
	// or off once switched (compressors, contactors); 0 means none. The
	// boot value counts as a switch, so MinOff also holds after a restart.
	MinOn, MinOff time.Duration
	// MaxSwitches bounds the changes of value within SwitchWindow; 0
	// means unbounded.
	MaxSwitches  int
	SwitchWindow time.Duration
}

// Options configure a Controller. The zero value keeps state and audit in
// memory and uses the real clock.
type Options struct {
	// StateDir is where timed overrides (control-overrides.json) and the
	// audit log (control-audit.jsonl) are persisted; "" keeps them in
	// memory.
	StateDir string
	// Now is the clock; nil means time.Now. Tests inject a settable clock
	// and call Tick.
	Now func() time.Time
	// Logger receives control events; nil discards them.
	Logger *slog.Logger
}

// File names in Options.StateDir.
const (
	OverridesFile = "control-overrides.json"
	AuditFile     = "control-audit.jsonl"
)

// Change is one parameter to set.
type Change struct {
	Node, Name string
	Value      Value
}

// Request is a set of changes from one requester, validated together and
// applied in order, or not at all.
type Request struct {
	From    string // requester JID, for the audit log
	Via     string // "iq", "message", "form", …
	Changes []Change
	// Override, when positive, makes the changes a timed override: each
	// parameter returns to its previous value after this long.
	Override time.Duration
}

// Problem is why one change of a request was refused.
type Problem struct {
	Node, Name string
	Err        error // wraps one of the Err* sentinels of this package
}

// SetError reports the problems of a refused request; nothing was changed.
type SetError struct{ Problems []Problem }

// Error lists the problems.
func (e *SetError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Err.Error()
	}
	return "control: set refused: " + strings.Join(msgs, "; ")
}

// Unwrap returns the problems' errors, so errors.Is finds the sentinels.
func (e *SetError) Unwrap() []error {
	out := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p.Err
	}
	return out
}

// Errors a Problem wraps besides those of Param.Check.
var (
	ErrUnknownParam = errors.New("parameter not found")
	ErrInterlock    = errors.New("output locked by its safety rules")
)

type point struct {
	Point
	cur       Value
	changedAt time.Time
	switches  []time.Time // within the switch window
	override  *override
	failsafed bool // failsafe applied for the current outage
}

// Controller owns the outputs: it validates and applies sets, enforces
// the safety rules, runs timed overrides and failsafe, and keeps the audit
// log. Its methods are safe for concurrent use.
type Controller struct {
	opts  Options
	log   *slog.Logger
	audit *Audit
	wake  chan struct{}

	mu           sync.Mutex
	points       []*point
	byKey        map[string]*point
	offline      bool
	offlineSince time.Time
	halted       bool
}

// New validates the points, writes each output's boot value (Failsafe, or
// Initial), then restores the timed overrides persisted in StateDir that
// have not expired. The Controller starts offline: call Online once the
// session is up, or the failsafe values return after the grace periods.
func New(points []Point, opts Options) (*Controller, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Controller{opts: opts, log: opts.Logger, byKey: map[string]*point{}, wake: make(chan struct{}, 1)}
	for _, p := range points {
		if err := p.Param.Validate(); err != nil {
			return nil, err
		}
		if p.Output == nil {
			return nil, fmt.Errorf("control: parameter %s: no output", p.Param.Key())
		}
		if p.Output.Type() != p.Param.Type {
			return nil, fmt.Errorf("control: parameter %s is a %s but %s takes %s", p.Param.Key(), p.Param.Type, p.Output, p.Output.Type())
		}
		boot := p.Safety.Failsafe
		if boot.IsZero() {
			boot = p.Initial
		}
		if boot.IsZero() {
			return nil, fmt.Errorf("control: parameter %s: neither failsafe nor initial value", p.Param.Key())
		}
		if err := p.Param.Check(boot); err != nil {
			return nil, fmt.Errorf("control: boot value of %s: %w", p.Param.Key(), err)
		}
		if _, dup := c.byKey[p.Param.Key()]; dup {
			return nil, fmt.Errorf("control: parameter %s declared twice", p.Param.Key())
		}
		pt := &point{Point: p}
		c.points = append(c.points, pt)
		c.byKey[p.Param.Key()] = pt
	}
	if opts.StateDir != "" {
		if err := os.MkdirAll(opts.StateDir, 0o700); err != nil {
			return nil, fmt.Errorf("control: state directory: %w", err)
		}
	}
	audit, err := OpenAudit(c.path(AuditFile))
	if err != nil {
		return nil, err
	}
	c.audit = audit
	now := c.opts.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, p := range c.points {
		boot, why := p.Safety.Failsafe, "failsafe at boot"
		if boot.IsZero() {
			boot, why = p.Initial, "initial value at boot"
		}
		errs = append(errs, c.write(p, boot, now, "", "boot", why))
	}
	errs = append(errs, c.restore(now))
	// Not connected yet counts as a lost connection: should the agent never
	// get online, restored overrides end in failsafe after the grace period.
	c.offline, c.offlineSince = true, now
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Controller) path(name string) string {
	if c.opts.StateDir == "" {
		return ""
	}
	return filepath.Join(c.opts.StateDir, name)
}

// restore re-applies persisted overrides that have not expired.
func (c *Controller) restore(now time.Time) error {
	path := c.path(OverridesFile)
	if path == "" {
		return nil
	}
	ovs, err := loadState(path)
	if err != nil {
		return err
	}
	for _, o := range ovs {
		p := c.byKey[Key(o.Node, o.Name)]
		if p == nil || p.Param.Type.String() != o.Type {
			c.log.Warn("dropping persisted override of an unknown parameter", "node", o.Node, "name", o.Name)
			continue
		}
		v, err1 := Parse(p.Param.Type, o.Value)
		rv, err2 := Parse(p.Param.Type, o.Revert)
		if err1 != nil || err2 != nil || p.Param.Check(v) != nil || p.Param.Check(rv) != nil {
			c.log.Warn("dropping invalid persisted override", "param", p.Param.Key())
			continue
		}
		if !now.Before(o.Until) {
			c.auditf(now, "", "restore", p, rv, false, "override ended while the agent was stopped; output left at its boot value")
			continue
		}
		o := o
		if err := c.write(p, v, now, "", "restore", "timed override restored after restart"); err != nil {
			return err
		}
		p.override = &o
	}
	return c.persist()
}

// persist writes the overrides in force; callers hold c.mu.
func (c *Controller) persist() error {
	path := c.path(OverridesFile)
	if path == "" {
		return nil
	}
	var ovs []override
	for _, p := range c.points {
		if p.override != nil {
			ovs = append(ovs, *p.override)
		}
	}
	return saveState(path, ovs)
}

// write applies v to p's output and records the switch; callers hold c.mu.
func (c *Controller) write(p *point, v Value, now time.Time, from, via, reason string) error {
	if err := p.Output.Write(v); err != nil {
		c.auditf(now, from, via, p, v, false, "output failed: "+err.Error())
		return fmt.Errorf("control: %s: %w", p.Param.Key(), err)
	}
	if !p.cur.Equal(v) {
		if !p.cur.IsZero() {
			p.switches = append(p.switches, now)
			// Keep only what the rate rule can still count.
			for len(p.switches) > 0 && (p.Safety.SwitchWindow <= 0 || now.Sub(p.switches[0]) >= p.Safety.SwitchWindow) {
				p.switches = p.switches[1:]
			}
		}
		p.changedAt = now
	}
	p.cur = v
	c.auditf(now, from, via, p, v, true, reason)
	return nil
}

func (c *Controller) auditf(now time.Time, from, via string, p *point, v Value, ok bool, reason string) {
	e := Entry{Time: now, From: from, Via: via, Node: p.Param.Node, Name: p.Param.Name, Value: v.String(), Type: v.Type().String(), Accepted: ok, Reason: reason}
	if p.override != nil && ok && via != "revert" {
		e.Override = p.override.Until.Sub(now).String()
	}
	c.record(e)
}

func (c *Controller) record(e Entry) {
	if err := c.audit.Add(e); err != nil {
		c.log.Error("audit log", "err", err)
	}
	c.log.Info("control", "from", e.From, "via", e.Via, "param", Key(e.Node, e.Name), "value", e.Value, "accepted", e.Accepted, "reason", e.Reason)
}

// Params lists the parameters in declaration order (the order the XEP asks
// clients to write them in).
func (c *Controller) Params() []Param {
	out := make([]Param, len(c.points))
	for i, p := range c.points {
		out[i] = p.Param
	}
	return out
}

// Nodes lists the node ids that have parameters, in declaration order.
func (c *Controller) Nodes() []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range c.points {
		if !seen[p.Param.Node] {
			seen[p.Param.Node] = true
			out = append(out, p.Param.Node)
		}
	}
	return out
}

// Lookup returns the parameter name on node.
func (c *Controller) Lookup(node, name string) (Param, bool) {
	p := c.byKey[Key(node, name)]
	if p == nil {
		return Param{}, false
	}
	return p.Param, true
}

// Get returns the current value of parameter name on node.
func (c *Controller) Get(node, name string) (Value, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.byKey[Key(node, name)]
	if p == nil {
		return Value{}, false
	}
	return p.cur, true
}

// Audit returns the audit log.
func (c *Controller) Audit() *Audit { return c.audit }

// Refuse records a request refused before it reached the Controller (by
// the authorisation hook, for example) in the audit log.
func (c *Controller) Refuse(req Request, reason string) {
	now := c.opts.Now()
	if len(req.Changes) == 0 {
		c.record(Entry{Time: now, From: req.From, Via: req.Via, Reason: reason})
		return
	}
	for _, ch := range req.Changes {
		c.record(Entry{Time: now, From: req.From, Via: req.Via, Node: ch.Node, Name: ch.Name, Value: ch.Value.String(), Type: ch.Value.Type().String(), Reason: reason})
	}
}
