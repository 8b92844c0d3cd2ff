package control

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/xiot/xiot/sensors"
)

// Type is the type of a control parameter, one per XEP-0325 parameter
// element.
type Type uint8

// The parameter types, named after the XEP-0325 element that carries them.
// TypeNone is the zero Value's type and is not a valid parameter type.
const (
	TypeNone Type = iota
	TypeBoolean
	TypeColor
	TypeDate
	TypeDateTime
	TypeDouble
	TypeDuration
	TypeInt
	TypeLong
	TypeString
	TypeTime
)

var typeNames = [...]string{
	TypeNone: "", TypeBoolean: "boolean", TypeColor: "color", TypeDate: "date",
	TypeDateTime: "dateTime", TypeDouble: "double", TypeDuration: "duration",
	TypeInt: "int", TypeLong: "long", TypeString: "string", TypeTime: "time",
}

// Types lists every parameter type in the order of the XEP-0325 schema.
var Types = []Type{TypeBoolean, TypeColor, TypeDate, TypeDateTime, TypeDouble, TypeDuration, TypeInt, TypeLong, TypeString, TypeTime}

// String returns the XEP-0325 element name of the type ("boolean",
// "dateTime", …), or "none".
func (t Type) String() string {
	if t == TypeNone || int(t) >= len(typeNames) {
		return "none"
	}
	return typeNames[t]
}

// ParseType returns the type whose XEP-0325 element name is s.
func ParseType(s string) (Type, error) {
	for i, n := range typeNames {
		if n == s && i != int(TypeNone) {
			return Type(i), nil
		}
	}
	return TypeNone, fmt.Errorf("control: unknown parameter type %q", s)
}

// Value is a typed control parameter value. Build one with Parse or the
// constructor of its type; the zero Value has TypeNone. Values are small
// and safe to copy.
type Value struct {
	typ Type
	b   bool
	i   int64
	f   float64
	s   string // string, and color as upper-case hex
	t   time.Time
	d   time.Duration
}

// Bool returns a boolean value.
func Bool(b bool) Value { return Value{typ: TypeBoolean, b: b} }

// Int returns a 32-bit integer value.
func Int(i int32) Value { return Value{typ: TypeInt, i: int64(i)} }

// Long returns a 64-bit integer value.
func Long(i int64) Value { return Value{typ: TypeLong, i: i} }

// Double returns a double value.
func Double(f float64) Value { return Value{typ: TypeDouble, f: f} }

// String returns a string value.
func String(s string) Value { return Value{typ: TypeString, s: s} }

// Date returns a date value (the calendar date of t).
func Date(t time.Time) Value { return Value{typ: TypeDate, t: t} }

// DateTime returns a date and time value.
func DateTime(t time.Time) Value { return Value{typ: TypeDateTime, t: t} }

// TimeOfDay returns a time value (the clock time of t).
func TimeOfDay(t time.Time) Value { return Value{typ: TypeTime, t: t} }

// Duration returns a duration value.
func Duration(d time.Duration) Value { return Value{typ: TypeDuration, d: d} }

// Type returns the type of v.
func (v Value) Type() Type { return v.typ }

// IsZero reports whether v is the zero Value (no type).
func (v Value) IsZero() bool { return v.typ == TypeNone }

// AsBool returns the truth of a boolean value; ok is false otherwise.
func (v Value) AsBool() (b, ok bool) { return v.b, v.typ == TypeBoolean }

// AsFloat returns the number of a double, int or long value.
func (v Value) AsFloat() (f float64, ok bool) {
	switch v.typ {
	case TypeDouble:
		return v.f, true
	case TypeInt, TypeLong:
		return float64(v.i), true
	}
	return 0, false
}

// AsDuration returns the length of a duration value.
func (v Value) AsDuration() (time.Duration, bool) { return v.d, v.typ == TypeDuration }

// AsTime returns the instant of a date, dateTime or time value.
func (v Value) AsTime() (time.Time, bool) {
	return v.t, v.typ == TypeDate || v.typ == TypeDateTime || v.typ == TypeTime
}

// AsText returns the text of a string or color value.
func (v Value) AsText() (string, bool) { return v.s, v.typ == TypeString || v.typ == TypeColor }

// Parse reads s, the value attribute of a XEP-0325 parameter element (or a
// data form field value), as a value of type t. Color accepts RRGGBB and
// RRGGBBAA hex; int is range-checked to 32 bits. Dates and times without a
// zone are read as UTC.
func Parse(t Type, s string) (Value, error) {
	var k sensors.Kind
	switch t {
	case TypeColor:
		c := strings.TrimSpace(s)
		if (len(c) != 6 && len(c) != 8) || strings.Trim(c, "0123456789abcdefABCDEF") != "" {
			return Value{}, fmt.Errorf("control: invalid color %q: want RRGGBB or RRGGBBAA", s)
		}
		return Value{typ: TypeColor, s: strings.ToUpper(c)}, nil
	case TypeDouble:
		f, err := parseDouble(s)
		if err != nil {
			return Value{}, err
		}
		return Double(f), nil
	case TypeString:
		return String(s), nil
	case TypeBoolean:
		k = sensors.KindBoolean
	case TypeDate:
		k = sensors.KindDate
	case TypeDateTime:
		k = sensors.KindDateTime
	case TypeDuration:
		k = sensors.KindDuration
	case TypeInt:
		k = sensors.KindInt
	case TypeLong:
		k = sensors.KindLong
	case TypeTime:
		k = sensors.KindTime
	default:
		return Value{}, fmt.Errorf("control: cannot parse a value of type %s", t)
	}
	sv, _, err := sensors.ParseValue(k, s)
	if err != nil {
		return Value{}, fmt.Errorf("control: %s value: %w", t, err)
	}
	return fromSensor(t, sv), nil
}

// parseDouble reads xs:double, including INF, -INF and NaN.
func parseDouble(s string) (float64, error) {
	switch t := strings.TrimSpace(s); t {
	case "NaN":
		return math.NaN(), nil
	case "INF", "+INF":
		return math.Inf(1), nil
	case "-INF":
		return math.Inf(-1), nil
	default:
		f, err := strconv.ParseFloat(t, 64)
		if err != nil || strings.ContainsAny(t, "xXpP_nNiI") {
			return 0, fmt.Errorf("control: invalid double %q", s)
		}
		return f, nil
	}
}

func fromSensor(t Type, sv sensors.Value) Value {
	v := Value{typ: t}
	switch t {
	case TypeBoolean:
		v.b, _ = sv.Bool()
	case TypeInt, TypeLong:
		v.i, _ = sv.Integer()
	case TypeDate, TypeDateTime, TypeTime:
		v.t, _ = sv.Time()
	case TypeDuration:
		v.d, _ = sv.Duration()
	}
	return v
}

// String returns v in the lexical form of its XML Schema type, as the
// value attribute of its XEP-0325 element.
func (v Value) String() string {
	switch v.typ {
	case TypeColor, TypeString:
		return v.s
	case TypeDouble:
		switch {
		case math.IsNaN(v.f):
			return "NaN"
		case math.IsInf(v.f, 1):
			return "INF"
		case math.IsInf(v.f, -1):
			return "-INF"
		}
		return strconv.FormatFloat(v.f, 'g', -1, 64)
	case TypeNone:
		return ""
	}
	return v.Sensor().Format(0)
}

// Sensor returns v as a XEP-0323 field value, for readouts of writable
// parameters: double becomes numeric and color a RRGGBB(AA) string, as
// XEP-0325 §"Harmonization with XEP-0323" suggests.
func (v Value) Sensor() sensors.Value {
	switch v.typ {
	case TypeBoolean:
		return sensors.Boolean(v.b)
	case TypeColor, TypeString:
		return sensors.String(v.s)
	case TypeDate:
		return sensors.Date(v.t)
	case TypeDateTime:
		return sensors.DateTime(v.t)
	case TypeDouble:
		return sensors.Numeric(v.f)
	case TypeDuration:
		return sensors.Duration(v.d)
	case TypeInt:
		return sensors.Int(int32(v.i))
	case TypeLong:
		return sensors.Long(v.i)
	case TypeTime:
		return sensors.TimeOfDay(v.t)
	}
	return sensors.Value{}
}

// Equal reports whether v and w have the same type and value, as their
// lexical forms would show.
func (v Value) Equal(w Value) bool {
	if v.typ != w.typ {
		return false
	}
	if v.typ == TypeDouble {
		return v.f == w.f || (math.IsNaN(v.f) && math.IsNaN(w.f))
	}
	return v.Sensor().Equal(w.Sensor())
}

// Compare orders two values of the same ordered type (numbers, durations,
// dates and times): -1, 0 or +1; ok is false for booleans, strings, colors,
// NaN and mixed types.
func (v Value) Compare(w Value) (c int, ok bool) {
	if v.typ != w.typ {
		return 0, false
	}
	cmp := func(a, b float64) (int, bool) {
		switch {
		case math.IsNaN(a) || math.IsNaN(b):
			return 0, false
		case a < b:
			return -1, true
		case a > b:
			return 1, true
		}
		return 0, true
	}
	switch v.typ {
	case TypeDouble:
		return cmp(v.f, w.f)
	case TypeInt, TypeLong:
		switch {
		case v.i < w.i:
			return -1, true
		case v.i > w.i:
			return 1, true
		}
		return 0, true
	case TypeDuration:
		return cmp(float64(v.d), float64(w.d))
	case TypeDateTime:
		return v.t.Compare(w.t), true
	case TypeDate:
		return strings.Compare(v.String(), w.String()), true
	case TypeTime:
		return clockOf(v.t).Compare(clockOf(w.t)), true
	}
	return 0, false
}

// clockOf maps the clock time of t onto one day, for ordering time values.
func clockOf(t time.Time) time.Time {
	h, m, s := t.Clock()
	return time.Date(2000, 1, 1, h, m, s, t.Nanosecond(), time.UTC)
}
