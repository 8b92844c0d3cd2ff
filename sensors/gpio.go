package sensors

import (
	"context"
	"fmt"
	"time"

	"periph.io/x/conn/v3/gpio"
)

// DigitalInputOpts configures a GPIO read as a boolean field.
type DigitalInputOpts struct {
	// Node is the node id; "" means "gpio-" and the pin name.
	Node string
	// Field is the field name; "" means "State".
	Field string
	// Pull is the pull resistor to apply; the zero value leaves it unchanged.
	Pull gpio.Pull
	// Invert reports true for a low level (active-low contacts).
	Invert bool
	// Now stamps the fields; nil means time.Now.
	Now func() time.Time
}

// DigitalInput reports the level of a GPIO input as a boolean field.
type DigitalInput struct {
	pin  gpio.PinIn
	opts DigitalInputOpts
	spec FieldSpec
	now  func() time.Time
}

// NewDigitalInput configures pin as an input. The error names the pin and
// the likely cause (wrong pin, pin busy, permission).
func NewDigitalInput(pin gpio.PinIn, opts DigitalInputOpts) (*DigitalInput, error) {
	if pin == nil || pin == gpio.INVALID {
		return nil, fmt.Errorf("gpio input: no such pin (check the pin name against --list-hardware)")
	}
	if err := pin.In(opts.Pull, gpio.NoEdge); err != nil {
		return nil, wrapBusError("gpio input", "gpio", pin.Name(), err)
	}
	if opts.Node == "" {
		opts.Node = "gpio-" + pin.Name()
	}
	if opts.Field == "" {
		opts.Field = "State"
	}
	return &DigitalInput{
		pin: pin, opts: opts, now: nowOr(opts.Now),
		spec: FieldSpec{Name: opts.Field, Kind: KindBoolean, Types: Momentary},
	}, nil
}

// String names the pin.
func (d *DigitalInput) String() string { return "DigitalInput{" + d.pin.String() + "}" }

// Node returns the node id.
func (d *DigitalInput) Node() string { return d.opts.Node }

// Fields lists the one boolean field.
func (d *DigitalInput) Fields() []FieldSpec { return []FieldSpec{d.spec} }

// Read samples the pin level.
func (d *DigitalInput) Read(ctx context.Context, types ReadoutType) ([]Field, error) {
	if types != 0 && !types.Intersects(Momentary) {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	on := d.pin.Read() == gpio.High
	if d.opts.Invert {
		on = !on
	}
	return []Field{d.spec.Field(d.opts.Node, Boolean(on), d.now(), QoSAutomaticReadout)}, nil
}

// Halt releases the pin.
func (d *DigitalInput) Halt() error { return d.pin.Halt() }
