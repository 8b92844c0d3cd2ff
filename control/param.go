package control

import (
	"errors"
	"fmt"
	"strings"
)

// Param declares a control parameter: its name and node, its type and the
// values it accepts. Forms, validation and the CLI are built from it.
type Param struct {
	// Node is the node id the parameter belongs to; "" is the device itself.
	Node string
	// Name is the parameter name, e.g. "Heater".
	Name string
	// Type is the parameter type.
	Type Type
	// Label and Desc are shown by clients in control forms.
	Label, Desc string
	// Min and Max bound ordered types (numbers, durations, dates, times);
	// the zero Value means unbounded. For strings they bound the length
	// (as int values).
	Min, Max Value
	// Options, when set, are the only values accepted (list-single in forms).
	Options []Value
	// Group names the XEP-0325 parameterGroup the parameter belongs to.
	Group string
}

// Key returns "node/name", or name for the device itself.
func (p Param) Key() string { return Key(p.Node, p.Name) }

// Key returns the key of parameter name on node: "node/name", or name when
// node is "".
func Key(node, name string) string {
	if node == "" {
		return name
	}
	return node + "/" + name
}

// Errors of Param.Check, wrapped with the parameter name; XEP-0325 reports
// ErrWrongType as "Invalid parameter type." and the others as "Invalid
// parameter value.".
var (
	ErrWrongType  = errors.New("invalid parameter type")
	ErrOutOfRange = errors.New("value out of range")
	ErrNotAllowed = errors.New("value not among the allowed options")
)

// Check reports why v cannot be set on p, or nil.
func (p Param) Check(v Value) error {
	if v.Type() != p.Type {
		return fmt.Errorf("%s: %w: got %s, want %s", p.Name, ErrWrongType, v.Type(), p.Type)
	}
	if len(p.Options) > 0 {
		for _, o := range p.Options {
			if o.Equal(v) {
				return nil
			}
		}
		opts := make([]string, len(p.Options))
		for i, o := range p.Options {
			opts[i] = o.String()
		}
		return fmt.Errorf("%s: %w: %q not in {%s}", p.Name, ErrNotAllowed, v, strings.Join(opts, ", "))
	}
	if p.Type == TypeString {
		n := Long(int64(len([]rune(v.s))))
		if lo, ok := p.Min.AsFloat(); ok && float64(n.i) < lo {
			return fmt.Errorf("%s: %w: length %d below %v", p.Name, ErrOutOfRange, n.i, lo)
		}
		if hi, ok := p.Max.AsFloat(); ok && float64(n.i) > hi {
			return fmt.Errorf("%s: %w: length %d above %v", p.Name, ErrOutOfRange, n.i, hi)
		}
		return nil
	}
	if !p.Min.IsZero() {
		if c, ok := v.Compare(p.Min); !ok || c < 0 {
			return fmt.Errorf("%s: %w: %s below minimum %s", p.Name, ErrOutOfRange, v, p.Min)
		}
	}
	if !p.Max.IsZero() {
		if c, ok := v.Compare(p.Max); !ok || c > 0 {
			return fmt.Errorf("%s: %w: %s above maximum %s", p.Name, ErrOutOfRange, v, p.Max)
		}
	}
	return nil
}

// Validate reports a declaration that cannot work: no name, an unknown
// type, bounds or options of another type, or Min above Max.
func (p Param) Validate() error {
	if p.Name == "" {
		return errors.New("control: parameter without a name")
	}
	if p.Type == TypeNone || int(p.Type) >= len(typeNames) {
		return fmt.Errorf("control: parameter %s: no type", p.Name)
	}
	boundType := p.Type
	if p.Type == TypeString {
		boundType = TypeInt
	}
	for _, b := range []Value{p.Min, p.Max} {
		if b.IsZero() {
			continue
		}
		if b.Type() != boundType {
			return fmt.Errorf("control: parameter %s: bound %s is a %s, want %s", p.Name, b, b.Type(), boundType)
		}
		if _, ok := b.Compare(b); !ok {
			return fmt.Errorf("control: parameter %s: type %s has no order for bounds", p.Name, p.Type)
		}
	}
	if !p.Min.IsZero() && !p.Max.IsZero() {
		if c, _ := p.Min.Compare(p.Max); c > 0 {
			return fmt.Errorf("control: parameter %s: min %s above max %s", p.Name, p.Min, p.Max)
		}
	}
	for _, o := range p.Options {
		if o.Type() != p.Type {
			return fmt.Errorf("control: parameter %s: option %s is a %s, want %s", p.Name, o, o.Type(), p.Type)
		}
	}
	return nil
}
