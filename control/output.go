package control

import (
	"fmt"
	"math"
	"sync"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
)

// Output applies a parameter's value to the world: a GPIO level, a PWM
// duty, or a value other parts of the agent read. The Controller decides
// what to write and when; an Output only writes. Implementations are shaped
// like periph devices (String, Halt) and need not be safe for concurrent
// use: the Controller serialises calls.
type Output interface {
	// String names the output and its pin.
	String() string
	// Type is the only parameter type Write accepts.
	Type() Type
	// Write applies v, of type Type.
	Write(v Value) error
	// Halt releases the hardware; the Controller writes the failsafe
	// value first.
	Halt() error
}

// Relay drives a relay (or any on/off load) from a GPIO output: true
// energises it. ActiveLow relay boards energise on a low level.
type Relay struct {
	pin       gpio.PinOut
	activeLow bool
}

// NewRelay returns a relay on pin. It does not touch the pin: the
// Controller writes the boot value.
func NewRelay(pin gpio.PinOut, activeLow bool) (*Relay, error) {
	if pin == nil {
		return nil, fmt.Errorf("control: relay: no pin")
	}
	return &Relay{pin: pin, activeLow: activeLow}, nil
}

// String names the relay and its pin.
func (r *Relay) String() string {
	if r.activeLow {
		return "Relay{" + r.pin.String() + ", active-low}"
	}
	return "Relay{" + r.pin.String() + "}"
}

// Type is TypeBoolean.
func (r *Relay) Type() Type { return TypeBoolean }

// Write energises the relay for true and releases it for false.
func (r *Relay) Write(v Value) error {
	on, ok := v.AsBool()
	if !ok {
		return fmt.Errorf("control: %s: %w: %s", r, ErrWrongType, v.Type())
	}
	level := gpio.Level(on != r.activeLow)
	if err := r.pin.Out(level); err != nil {
		return fmt.Errorf("control: %s: set %s: %w", r, level, err)
	}
	return nil
}

// Halt releases the pin.
func (r *Relay) Halt() error { return r.pin.Halt() }

// PWM drives a PWM output (a dimmer, a fan, a valve actuator) with a duty
// cycle in percent, as a double parameter 0..100.
type PWM struct {
	pin  gpio.PinOut
	freq physic.Frequency
	// ActiveLow inverts the duty (100 % is a constant low level).
	activeLow bool
}

// NewPWM returns a PWM output on pin at frequency freq (0 lets the driver
// choose).
func NewPWM(pin gpio.PinOut, freq physic.Frequency, activeLow bool) (*PWM, error) {
	if pin == nil {
		return nil, fmt.Errorf("control: pwm: no pin")
	}
	if freq < 0 {
		return nil, fmt.Errorf("control: pwm on %s: negative frequency %s", pin, freq)
	}
	return &PWM{pin: pin, freq: freq, activeLow: activeLow}, nil
}

// String names the output and its pin.
func (p *PWM) String() string { return "PWM{" + p.pin.String() + ", " + p.freq.String() + "}" }

// Type is TypeDouble (percent).
func (p *PWM) Type() Type { return TypeDouble }

// Duty converts a percentage to a periph duty cycle, clamped to 0..100 %.
func Duty(percent float64) gpio.Duty {
	if math.IsNaN(percent) || percent <= 0 {
		return 0
	}
	if percent >= 100 {
		return gpio.DutyMax
	}
	return gpio.Duty(math.Round(percent / 100 * float64(gpio.DutyMax)))
}

// Write sets the duty cycle to v percent.
func (p *PWM) Write(v Value) error {
	pct, ok := v.AsFloat()
	if !ok || v.Type() != TypeDouble {
		return fmt.Errorf("control: %s: %w: %s", p, ErrWrongType, v.Type())
	}
	if math.IsNaN(pct) || pct < 0 || pct > 100 {
		return fmt.Errorf("control: %s: %w: duty %v%% outside 0..100", p, ErrOutOfRange, pct)
	}
	d := Duty(pct)
	if p.activeLow {
		d = gpio.DutyMax - d
	}
	if err := p.pin.PWM(d, p.freq); err != nil {
		return fmt.Errorf("control: %s: duty %s: %w", p, d, err)
	}
	return nil
}

// Halt releases the pin.
func (p *PWM) Halt() error { return p.pin.Halt() }

// Virtual is a parameter with no hardware behind it: a setpoint or mode
// that the agent's own logic reads (Value) or is told about (the onChange
// hook, called with the Controller's lock held: it must not call back).
type Virtual struct {
	name     string
	typ      Type
	onChange func(Value)

	mu  sync.Mutex
	cur Value
}

// NewVirtual returns a virtual output of type t; onChange may be nil.
func NewVirtual(name string, t Type, onChange func(Value)) *Virtual {
	return &Virtual{name: name, typ: t, onChange: onChange}
}

// String names the virtual output.
func (v *Virtual) String() string { return "Virtual{" + v.name + "}" }

// Type is the type given to NewVirtual.
func (v *Virtual) Type() Type { return v.typ }

// Write stores x and calls the hook.
func (v *Virtual) Write(x Value) error {
	if x.Type() != v.typ {
		return fmt.Errorf("control: %s: %w: %s", v, ErrWrongType, x.Type())
	}
	v.mu.Lock()
	v.cur = x
	v.mu.Unlock()
	if v.onChange != nil {
		v.onChange(x)
	}
	return nil
}

// Value returns the last value written (the zero Value before any).
func (v *Virtual) Value() Value {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.cur
}

// Halt does nothing.
func (v *Virtual) Halt() error { return nil }
