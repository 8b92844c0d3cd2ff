package control

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Set validates every change of req (parameter known, type, bounds and
// options, safety interlocks) and, only if all pass, applies them in order.
// A refused request returns a *SetError listing every problem and changes
// nothing. Both outcomes go to the audit log.
func (c *Controller) Set(ctx context.Context, req Request) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if req.Override < 0 {
		return fmt.Errorf("control: negative override duration %v", req.Override)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.opts.Now()
	if c.halted {
		return errors.New("control: controller shut down")
	}
	probs := c.check(req, now)
	if len(probs) > 0 {
		for _, pr := range probs {
			var v Value
			for _, ch := range req.Changes {
				if ch.Node == pr.Node && ch.Name == pr.Name {
					v = ch.Value
				}
			}
			c.record(Entry{Time: now, From: req.From, Via: req.Via, Node: pr.Node, Name: pr.Name, Value: v.String(), Type: v.Type().String(), Reason: pr.Err.Error()})
		}
		return &SetError{Problems: probs}
	}
	var errs []error
	dirty := false // the overrides in force changed: persist them
	for _, ch := range req.Changes {
		p := c.byKey[Key(ch.Node, ch.Name)]
		dirty = dirty || req.Override > 0 || p.override != nil
		if req.Override > 0 {
			revert := p.cur
			if p.override != nil {
				if rv, err := Parse(p.Param.Type, p.override.Revert); err == nil {
					revert = rv
				}
			}
			p.override = &override{Node: p.Param.Node, Name: p.Param.Name, Type: p.Param.Type.String(),
				Value: ch.Value.String(), Revert: revert.String(), Until: now.Add(req.Override)}
		} else {
			p.override = nil
		}
		if err := c.write(p, ch.Value, now, req.From, req.Via, ""); err != nil {
			errs = append(errs, err)
		}
	}
	if dirty {
		errs = append(errs, c.persist())
	}
	c.poke()
	return errors.Join(errs...)
}

// Check validates req as Set would, without applying or logging it, and
// returns a *SetError listing every problem, or nil.
func (c *Controller) Check(req Request) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if probs := c.check(req, c.opts.Now()); len(probs) > 0 {
		return &SetError{Problems: probs}
	}
	return nil
}

// check returns the problems of req at now; callers hold c.mu.
func (c *Controller) check(req Request, now time.Time) []Problem {
	var probs []Problem
	planned := map[*point]Value{} // value each point will hold, for interlocks within the request
	for _, ch := range req.Changes {
		p := c.byKey[Key(ch.Node, ch.Name)]
		if p == nil {
			probs = append(probs, Problem{ch.Node, ch.Name, fmt.Errorf("%s: %w", Key(ch.Node, ch.Name), ErrUnknownParam)})
			continue
		}
		if err := p.Param.Check(ch.Value); err != nil {
			probs = append(probs, Problem{ch.Node, ch.Name, err})
			continue
		}
		from, ok := planned[p]
		if !ok {
			from = p.cur
		}
		if err := c.interlock(p, from, ch.Value, now); err != nil {
			probs = append(probs, Problem{ch.Node, ch.Name, err})
			continue
		}
		planned[p] = ch.Value
	}
	return probs
}

// interlock applies the minimum on/off times and the switch rate to a
// change of p from cur to v at now; callers hold c.mu.
func (c *Controller) interlock(p *point, cur, v Value, now time.Time) error {
	if cur.Equal(v) {
		return nil // no switch
	}
	s := p.Safety
	if on, ok := cur.AsBool(); ok {
		if m := s.MinOn; on && m > 0 && now.Sub(p.changedAt) < m {
			return fmt.Errorf("%s: %w: on for %v, minimum on time %v", p.Param.Key(), ErrInterlock, now.Sub(p.changedAt).Round(time.Millisecond), m)
		}
		if m := s.MinOff; !on && m > 0 && now.Sub(p.changedAt) < m {
			return fmt.Errorf("%s: %w: off for %v, minimum off time %v", p.Param.Key(), ErrInterlock, now.Sub(p.changedAt).Round(time.Millisecond), m)
		}
	}
	if s.MaxSwitches > 0 && s.SwitchWindow > 0 {
		n := 0
		for _, t := range p.switches {
			if now.Sub(t) < s.SwitchWindow {
				n++
			}
		}
		if n >= s.MaxSwitches {
			return fmt.Errorf("%s: %w: %d switches in the last %v, maximum %d", p.Param.Key(), ErrInterlock, n, s.SwitchWindow, s.MaxSwitches)
		}
	}
	return nil
}

// unlockAt returns when the interlocks of p next allow a switch (at least
// a millisecond after now); callers hold c.mu.
func (c *Controller) unlockAt(p *point, now time.Time) time.Time {
	t := now.Add(time.Millisecond)
	s := p.Safety
	if on, ok := p.cur.AsBool(); ok {
		m := s.MinOff
		if on {
			m = s.MinOn
		}
		if u := p.changedAt.Add(m); u.After(t) {
			t = u
		}
	}
	if s.MaxSwitches > 0 && s.SwitchWindow > 0 {
		var recent []time.Time
		for _, sw := range p.switches {
			if now.Sub(sw) < s.SwitchWindow {
				recent = append(recent, sw)
			}
		}
		if len(recent) >= s.MaxSwitches {
			if u := recent[len(recent)-s.MaxSwitches].Add(s.SwitchWindow); u.After(t) {
				t = u
			}
		}
	}
	return t
}

// Offline tells the Controller the connection is lost: after each
// output's grace period its failsafe value is applied (by Tick or Run).
func (c *Controller) Offline() {
	c.mu.Lock()
	if !c.offline {
		c.offline, c.offlineSince = true, c.opts.Now()
		c.log.Warn("control: connection lost; failsafe after the grace periods")
	}
	c.mu.Unlock()
	c.poke()
	c.Tick()
}

// Online tells the Controller the connection is back: pending failsafes
// are cancelled. Outputs already in failsafe stay there until set again.
func (c *Controller) Online() {
	c.mu.Lock()
	c.offline = false
	for _, p := range c.points {
		p.failsafed = false
	}
	c.mu.Unlock()
	c.poke()
}

// Shutdown writes every failsafe value, cancels nothing persisted (timed
// overrides resume after a restart), halts the outputs and closes the
// audit log. The Controller refuses sets afterwards.
func (c *Controller) Shutdown() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.halted {
		return nil
	}
	c.halted = true
	now := c.opts.Now()
	var errs []error
	for _, p := range c.points {
		if !p.Safety.Failsafe.IsZero() {
			errs = append(errs, c.write(p, p.Safety.Failsafe, now, "", "shutdown", "failsafe on shutdown"))
		}
		if err := p.Output.Halt(); err != nil {
			errs = append(errs, fmt.Errorf("control: halt %s: %w", p.Output, err))
		}
	}
	errs = append(errs, c.audit.Close())
	c.poke()
	return errors.Join(errs...)
}

// Tick applies what is due at the clock's now: failsafe values whose
// grace period has passed while offline, and timed overrides that have
// ended (an override whose end an interlock blocks is retried at the next
// Tick). It returns when the next action is due (zero for none). Run calls
// it; tests with an injected clock call it directly.
func (c *Controller) Tick() (next time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.halted {
		return time.Time{}
	}
	now := c.opts.Now()
	earliest := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	dirty := false
	for _, p := range c.points {
		fs := p.Safety.Failsafe
		if c.offline && !fs.IsZero() && !p.failsafed {
			due := c.offlineSince.Add(p.Safety.Grace)
			if now.Before(due) {
				earliest(due)
			} else {
				p.failsafed = true
				if p.override == nil && p.cur.Equal(fs) {
					continue // already safe: nothing to write or log
				}
				if p.override != nil {
					p.override, dirty = nil, true
				}
				_ = c.write(p, fs, now, "", "failsafe", fmt.Sprintf("no connection for %v", now.Sub(c.offlineSince).Round(time.Millisecond)))
				continue
			}
		}
		if o := p.override; o != nil {
			if now.Before(o.Until) {
				earliest(o.Until)
				continue
			}
			rv, err := Parse(p.Param.Type, o.Revert)
			if err != nil {
				p.override, dirty = nil, true
				continue
			}
			if err := c.interlock(p, p.cur, rv, now); err != nil {
				earliest(c.unlockAt(p, now))
				continue
			}
			p.override, dirty = nil, true
			_ = c.write(p, rv, now, "", "revert", "timed override ended")
		}
	}
	if dirty {
		if err := c.persist(); err != nil {
			c.log.Error("control: persisting overrides", "err", err)
		}
	}
	return next
}

// poke wakes Run to recompute its next deadline.
func (c *Controller) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Run calls Tick whenever something is due, until ctx ends. The agent runs
// it on a goroutine of its own.
func (c *Controller) Run(ctx context.Context) error {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		next := c.Tick()
		wait := time.Hour
		if !next.IsZero() {
			wait = max(next.Sub(c.opts.Now()), time.Millisecond)
		}
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.wake:
		case <-t.C:
		}
	}
}
