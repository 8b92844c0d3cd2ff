package iotcontrol

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/xiot/xiot/control"
)

// Assignment is one name=value[:type] of a command line; Type is TypeNone
// when the suffix was left out.
type Assignment struct {
	Name, Value string
	Type        control.Type
}

// ParseAssignment reads name=value or name=value:type, where type is a
// XEP-0325 type name (boolean, color, date, dateTime, double, duration,
// int, long, string, time). Only a suffix naming a type is taken as one,
// so 08:00:00 stays a value; write 08:00:00:time to be explicit.
func ParseAssignment(s string) (Assignment, error) {
	name, value, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return Assignment{}, fmt.Errorf("%q: want name=value[:type]", s)
	}
	a := Assignment{Name: name, Value: value}
	if i := strings.LastIndexByte(value, ':'); i >= 0 {
		if t, err := control.ParseType(value[i+1:]); err == nil {
			a.Value, a.Type = value[:i], t
		}
	}
	return a, nil
}

// GuessType picks the type of a value written without one, for devices
// that publish no control form: true/false are boolean, integers int (or
// long when too big), other numbers double, then xs:duration, xs:date,
// xs:dateTime and xs:time forms; anything else is a string.
func GuessType(value string) control.Type {
	switch value {
	case "true", "false":
		return control.TypeBoolean
	}
	if _, err := strconv.ParseInt(value, 10, 32); err == nil {
		return control.TypeInt
	}
	if _, err := strconv.ParseInt(value, 10, 64); err == nil {
		return control.TypeLong
	}
	if _, err := strconv.ParseFloat(value, 64); err == nil && !strings.ContainsAny(value, "xXpP_nNiI") {
		return control.TypeDouble
	}
	for _, t := range []control.Type{control.TypeDuration, control.TypeDate, control.TypeDateTime, control.TypeTime} {
		if _, err := control.Parse(t, value); err == nil {
			return t
		}
	}
	return control.TypeString
}

// TypedParams turns assignments into typed parameters: an explicit type
// wins, then the type the control form gives the field (form may be nil),
// then GuessType. Values are checked against their type, and against the
// form's validation rules when the form lists the field.
func TypedParams(as []Assignment, form *Form) ([]Param, error) {
	fields := map[string]Field{}
	if form != nil {
		for _, f := range form.Fields {
			fields[f.Var] = f
		}
	}
	var out []Param
	for _, a := range as {
		t := a.Type
		f, inForm := fields[a.Name]
		if t == control.TypeNone && inForm {
			t, _ = f.ParamType()
		}
		if t == control.TypeNone {
			t = GuessType(a.Value)
		}
		if _, err := control.Parse(t, a.Value); err != nil {
			return nil, fmt.Errorf("%s: %w", a.Name, err)
		}
		if inForm {
			if ft, ok := f.ParamType(); ok && ft == t {
				if err := f.Validate(a.Value); err != nil {
					return nil, err // names the field already
				}
			}
		}
		out = append(out, Param{Type: t, Name: a.Name, Value: a.Value})
	}
	return out, nil
}
