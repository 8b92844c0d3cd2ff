package control

import (
	"fmt"
	"log/slog"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"

	"github.com/xiot/xiot/internal/config"
)

// DefaultGrace is the grace period of an output whose configuration sets
// none: long enough to ride out a reconnection with stream resumption.
const DefaultGrace = 30 * time.Second

// PinFunc finds a GPIO by name, or says why it cannot. BoardPins adapts
// boards/sim's Board.Pin and gpioreg.ByName; Expanders adds pins on I²C
// chips.
type PinFunc func(name string) (gpio.PinIO, error)

// BoardPins adapts a lookup that returns nil for unknown names.
func BoardPins(f func(name string) gpio.PinIO) PinFunc {
	return func(name string) (gpio.PinIO, error) {
		if f != nil {
			if p := f(name); p != nil {
				return p, nil
			}
		}
		return nil, fmt.Errorf("pin %q not found on this board", name)
	}
}

// Points builds the control points of the outputs section. pins finds
// relay and PWM pins; hooks, keyed by Key(node, name), are called when a
// virtual output changes (the sim board's setpoint, the agent's own
// logic). Errors name the outputs entry.
func Points(outs []config.Output, pins PinFunc, hooks map[string]func(Value)) ([]Point, error) {
	var pts []Point
	for i, o := range outs {
		p, err := pointOf(o, pins, hooks)
		if err != nil {
			return nil, fmt.Errorf("outputs[%d] (%s): %w", i, Key(o.Node, o.Name), err)
		}
		pts = append(pts, p)
	}
	return pts, nil
}

func pointOf(o config.Output, pins PinFunc, hooks map[string]func(Value)) (Point, error) {
	typ, err := ParseType(o.ParamType())
	if err != nil {
		return Point{}, err
	}
	prm := Param{Node: o.Node, Name: o.Name, Type: typ, Label: o.Label, Desc: o.Description, Group: o.Group}
	boundType := typ
	if typ == TypeString {
		boundType = TypeInt
	}
	parse := func(what, s string, t Type) (Value, error) {
		if s == "" {
			return Value{}, nil
		}
		v, err := Parse(t, s)
		if err != nil {
			return Value{}, fmt.Errorf("%s: %w", what, err)
		}
		return v, nil
	}
	if prm.Min, err = parse("min", o.Min, boundType); err != nil {
		return Point{}, err
	}
	if prm.Max, err = parse("max", o.Max, boundType); err != nil {
		return Point{}, err
	}
	for _, s := range o.Options {
		v, err := parse("option", s, typ)
		if err != nil {
			return Point{}, err
		}
		prm.Options = append(prm.Options, v)
	}
	grace := o.Grace
	if grace == 0 {
		grace = DefaultGrace
	}
	pt := Point{Param: prm, Safety: Safety{Grace: grace, MinOn: o.MinOn, MinOff: o.MinOff, MaxSwitches: o.MaxSwitches, SwitchWindow: o.SwitchWindow}}
	if pt.Safety.Failsafe, err = parse("failsafe", o.Failsafe, typ); err != nil {
		return Point{}, err
	}
	if pt.Initial, err = parse("initial", o.Initial, typ); err != nil {
		return Point{}, err
	}
	pinOf := func() (gpio.PinIO, error) {
		if pins == nil {
			return nil, fmt.Errorf("no GPIO on this board for pin %q", o.Pin)
		}
		return pins(o.Pin)
	}
	switch o.Kind {
	case config.OutputRelay:
		pin, err := pinOf()
		if err != nil {
			return Point{}, err
		}
		if pt.Output, err = NewRelay(pin, o.ActiveLow); err != nil {
			return Point{}, err
		}
		if pt.Safety.Failsafe.IsZero() {
			pt.Safety.Failsafe = Bool(false)
		}
	case config.OutputPWM:
		pin, err := pinOf()
		if err != nil {
			return Point{}, err
		}
		if pt.Output, err = NewPWM(pin, physic.Frequency(o.Frequency)*physic.Hertz, o.ActiveLow); err != nil {
			return Point{}, err
		}
		if pt.Param.Min.IsZero() {
			pt.Param.Min = Double(0)
		}
		if pt.Param.Max.IsZero() {
			pt.Param.Max = Double(100)
		}
		if pt.Safety.Failsafe.IsZero() {
			pt.Safety.Failsafe = Double(0)
		}
	case config.OutputVirtual:
		pt.Output = NewVirtual(Key(o.Node, o.Name), typ, hooks[Key(o.Node, o.Name)])
	default:
		return Point{}, fmt.Errorf("unknown output kind %q", o.Kind)
	}
	return pt, nil
}

// FromConfig builds the Controller of cfg's outputs section, with its
// state (overrides, audit log) in cfg.StateDir: Points, then New. The
// caller runs Run on a goroutine, wires Offline and Online to the
// session, and calls Shutdown on exit.
func FromConfig(cfg *config.Config, pins PinFunc, hooks map[string]func(Value), log *slog.Logger) (*Controller, error) {
	pts, err := Points(cfg.Outputs, pins, hooks)
	if err != nil {
		return nil, err
	}
	return New(pts, Options{StateDir: cfg.StateDir, Logger: log})
}
