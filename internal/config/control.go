package config

import (
	"fmt"
	"slices"
	"strconv"
	"time"
)

// Output kinds accepted by the kind key of an outputs entry.
const (
	OutputRelay   = "relay"   // GPIO driving a relay; a boolean parameter
	OutputPWM     = "pwm"     // GPIO with PWM; a double parameter in percent
	OutputVirtual = "virtual" // no hardware: a setpoint or mode the agent reads
)

// outputTypes are the XEP-0325 parameter types an output may declare.
var outputTypes = []string{"boolean", "color", "date", "dateTime", "double", "duration", "int", "long", "string", "time"}

// Output declares one controllable parameter (XEP-0325) and what it
// drives, with its bounds and demand-response safety rules. Values (min,
// max, options, initial, failsafe) are written in the lexical form of the
// parameter's type: true, 21.5, 08:00:00, PT10M, 3399FF, ….
type Output struct {
	// Name is the parameter name, e.g. Heater.
	Name string `yaml:"name"`
	// Node is the node id the parameter belongs to; "" is the device.
	Node string `yaml:"node"`
	// Kind is OutputRelay, OutputPWM or OutputVirtual.
	Kind string `yaml:"kind"`
	// Pin names the GPIO of a relay or PWM output (e.g. GPIO17, or RELAY
	// on the sim board), or a channel of an I²C chip on the board's bus as
	// chip@address:channel (pca9685@0x40:3, mcp23017@0x20:9,
	// pcf8574@0x21:4).
	Pin string `yaml:"pin"`
	// ActiveLow drives the pin low for "on" (most relay boards).
	ActiveLow bool `yaml:"active_low"`
	// Frequency is the PWM frequency in Hz; 0 lets the driver choose.
	Frequency int `yaml:"frequency"`
	// Type is the parameter type: boolean for relays and double for PWM
	// (the defaults), any XEP-0325 type for virtual outputs.
	Type string `yaml:"type"`
	// Label and Description are shown in control forms.
	Label       string `yaml:"label"`
	Description string `yaml:"description"`
	// Min and Max bound ordered values ("" for none); for strings they
	// bound the length.
	Min string `yaml:"min"`
	Max string `yaml:"max"`
	// Options, when set, are the only values accepted.
	Options []string `yaml:"options"`
	// Group is the XEP-0325 parameterGroup of parameters set together.
	Group string `yaml:"group"`
	// Initial is the value at boot of an output without failsafe.
	Initial string `yaml:"initial"`
	// Failsafe is the value applied at boot, on shutdown and after Grace
	// without connection; relays default to false and PWM to 0.
	Failsafe string `yaml:"failsafe"`
	// Grace is how long the connection may be lost before Failsafe; 0
	// means the default, 30s (use 1ms for at once).
	Grace time.Duration `yaml:"grace"`
	// MinOn and MinOff are the shortest on and off times of a boolean
	// output (compressors, contactors).
	MinOn  time.Duration `yaml:"min_on"`
	MinOff time.Duration `yaml:"min_off"`
	// MaxSwitches bounds the changes of value within SwitchWindow (both
	// or neither set).
	MaxSwitches  int           `yaml:"max_switches"`
	SwitchWindow time.Duration `yaml:"switch_window"`
}

// ParamType returns the parameter type, with the kind's default filled in.
func (o Output) ParamType() string {
	switch {
	case o.Type != "":
		return o.Type
	case o.Kind == OutputRelay:
		return "boolean"
	case o.Kind == OutputPWM:
		return "double"
	}
	return ""
}

// checkOutputs validates the outputs section: every entry, and parameter
// names unique per node. Values of types beyond boolean and numbers are
// parsed by the control package when the outputs are built.
func (c *Config) checkOutputs() []error {
	var errs []error
	seen := map[string]int{}
	for i, o := range c.Outputs {
		key := fmt.Sprintf("outputs[%d]", i)
		add := func(sub, format string, args ...any) {
			errs = append(errs, c.src.atf(key+"."+sub, format, args...))
		}
		if o.Name == "" {
			add("name", "required: the parameter name, e.g. Heater")
		} else if j, dup := seen[o.Node+"/"+o.Name]; dup {
			add("name", "%q on node %q is also outputs[%d]", o.Name, o.Node, j)
		} else {
			seen[o.Node+"/"+o.Name] = i
		}
		typ := o.ParamType()
		switch o.Kind {
		case OutputRelay, OutputPWM:
			if o.Pin == "" {
				add("pin", "required for a %s output", o.Kind)
			}
			want := map[string]string{OutputRelay: "boolean", OutputPWM: "double"}[o.Kind]
			if typ != want {
				add("type", "a %s output is a %s parameter, not %s", o.Kind, want, typ)
			}
		case OutputVirtual:
			if o.Pin != "" {
				add("pin", "a virtual output has no pin")
			}
			if typ == "" {
				add("type", "required for a virtual output: one of %v", outputTypes)
			}
			if o.Failsafe == "" && o.Initial == "" {
				add("initial", "a virtual output needs initial or failsafe")
			}
		default:
			add("kind", "must be %s, %s or %s, not %q", OutputRelay, OutputPWM, OutputVirtual, o.Kind)
		}
		if typ != "" && !slices.Contains(outputTypes, typ) {
			add("type", "must be one of %v, not %q", outputTypes, typ)
		}
		if o.Frequency < 0 || (o.Frequency != 0 && o.Kind != OutputPWM) {
			add("frequency", "only a pwm output has a frequency, in Hz ≥ 0")
		}
		for _, v := range []struct{ key, val string }{{"min", o.Min}, {"max", o.Max}, {"initial", o.Initial}, {"failsafe", o.Failsafe}} {
			if v.val == "" {
				continue
			}
			t := typ
			if typ == "string" && (v.key == "min" || v.key == "max") {
				t = "int"
			}
			if err := checkLexical(t, v.val); err != nil {
				add(v.key, "%v", err)
			}
		}
		for j, opt := range o.Options {
			if err := checkLexical(typ, opt); err != nil {
				add(fmt.Sprintf("options[%d]", j), "%v", err)
			}
		}
		if o.Grace < 0 {
			add("grace", "must not be negative")
		}
		if (o.MinOn != 0 || o.MinOff != 0) && typ != "boolean" {
			add("min_on", "minimum on/off times apply to boolean outputs only")
		}
		if o.MinOn < 0 || o.MinOff < 0 {
			add("min_on", "must not be negative")
		}
		if o.MaxSwitches < 0 || o.SwitchWindow < 0 || (o.MaxSwitches > 0) != (o.SwitchWindow > 0) {
			add("max_switches", "set both max_switches and switch_window, or neither")
		}
	}
	return errs
}

// checkLexical checks the values whose syntax is simple; the others are
// checked when the control package parses them.
func checkLexical(typ, s string) error {
	var err error
	switch typ {
	case "boolean":
		if s != "true" && s != "false" && s != "1" && s != "0" {
			return fmt.Errorf("%q is not a boolean (true or false)", s)
		}
	case "int":
		_, err = strconv.ParseInt(s, 10, 32)
	case "long":
		_, err = strconv.ParseInt(s, 10, 64)
	case "double":
		_, err = strconv.ParseFloat(s, 64)
	}
	if err != nil {
		return fmt.Errorf("%q is not a valid %s", s, typ)
	}
	return nil
}
