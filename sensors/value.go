package sensors

import (
	"fmt"
	"math"
	"time"
)

// Kind is the type of a field value, one per XEP-0323 field element.
type Kind uint8

// The value kinds. KindNone is the zero Value, which is not a valid field
// value; the others are named after the XEP-0323 element that carries them.
const (
	KindNone Kind = iota
	KindBoolean
	KindDate
	KindDateTime
	KindDuration
	KindEnum
	KindInt
	KindLong
	KindNumeric
	KindString
	KindTime
)

var kindNames = [...]string{
	KindNone: "", KindBoolean: "boolean", KindDate: "date", KindDateTime: "dateTime",
	KindDuration: "duration", KindEnum: "enum", KindInt: "int", KindLong: "long",
	KindNumeric: "numeric", KindString: "string", KindTime: "time",
}

// String returns the XEP-0323 element name of the kind ("numeric",
// "dateTime", …), or "none" for KindNone and out-of-range values.
func (k Kind) String() string {
	if k == KindNone || int(k) >= len(kindNames) {
		return "none"
	}
	return kindNames[k]
}

// ParseKind returns the kind whose XEP-0323 element name is s.
func ParseKind(s string) (Kind, error) {
	for k, n := range kindNames {
		if n == s && k != int(KindNone) {
			return Kind(k), nil
		}
	}
	return KindNone, fmt.Errorf("sensors: unknown field value element %q", s)
}

// Value is a typed field value. Build one with the constructor of its kind
// (Numeric, Boolean, …); the zero Value has KindNone and is not a valid
// field value. Values are small, comparable only through their accessors,
// and safe to copy.
type Value struct {
	kind Kind
	b    bool
	i    int64
	f    float64
	s    string // string and enum value
	dt   string // enum data type
	t    time.Time
	d    time.Duration
}

// Numeric returns a numeric value. Its unit and number of decimals live on
// the Field, because XEP-0323 keeps them on the element beside the value.
func Numeric(v float64) Value { return Value{kind: KindNumeric, f: v} }

// Boolean returns a boolean value.
func Boolean(v bool) Value { return Value{kind: KindBoolean, b: v} }

// Int returns a 32-bit integer value (XEP-0323 int).
func Int(v int32) Value { return Value{kind: KindInt, i: int64(v)} }

// Long returns a 64-bit integer value (XEP-0323 long).
func Long(v int64) Value { return Value{kind: KindLong, i: v} }

// String returns a string value.
func String(v string) Value { return Value{kind: KindString, s: v} }

// Enum returns an enumeration value with the data type that names the
// enumeration, so consumers can interpret it.
func Enum(v, dataType string) Value { return Value{kind: KindEnum, s: v, dt: dataType} }

// Date returns a date value; only the calendar date of t in its location is
// kept when formatted.
func Date(t time.Time) Value { return Value{kind: KindDate, t: t} }

// DateTime returns a date and time value.
func DateTime(t time.Time) Value { return Value{kind: KindDateTime, t: t} }

// TimeOfDay returns a time value (XEP-0323 time); only the clock time of t
// in its location is kept when formatted.
func TimeOfDay(t time.Time) Value { return Value{kind: KindTime, t: t} }

// Duration returns a duration value.
func Duration(d time.Duration) Value { return Value{kind: KindDuration, d: d} }

// Kind returns the kind of the value.
func (v Value) Kind() Kind { return v.kind }

// Float returns the number held by a numeric, int or long value; ok is false
// for other kinds.
func (v Value) Float() (f float64, ok bool) {
	switch v.kind {
	case KindNumeric:
		return v.f, true
	case KindInt, KindLong:
		return float64(v.i), true
	}
	return 0, false
}

// Integer returns the number held by an int or long value; ok is false for
// other kinds.
func (v Value) Integer() (i int64, ok bool) {
	return v.i, v.kind == KindInt || v.kind == KindLong
}

// Bool returns the truth of a boolean value; ok is false for other kinds.
func (v Value) Bool() (b, ok bool) { return v.b, v.kind == KindBoolean }

// Text returns the text of a string or enum value; ok is false for other
// kinds.
func (v Value) Text() (s string, ok bool) {
	return v.s, v.kind == KindString || v.kind == KindEnum
}

// DataType returns the enumeration data type of an enum value, or "".
func (v Value) DataType() string { return v.dt }

// Time returns the instant held by a date, dateTime or time value; ok is
// false for other kinds.
func (v Value) Time() (t time.Time, ok bool) {
	return v.t, v.kind == KindDate || v.kind == KindDateTime || v.kind == KindTime
}

// Duration returns the length of a duration value; ok is false for other
// kinds.
func (v Value) Duration() (d time.Duration, ok bool) { return v.d, v.kind == KindDuration }

// Equal reports whether v and w have the same kind and the same value.
// Numeric values compare by number (NaN equals NaN), dateTime values by
// instant, date values by calendar date and time values by clock time, each
// in its own location (as Format writes them).
func (v Value) Equal(w Value) bool {
	if v.kind != w.kind {
		return false
	}
	switch v.kind {
	case KindNumeric:
		return v.f == w.f || (math.IsNaN(v.f) && math.IsNaN(w.f))
	case KindDateTime:
		return v.t.Equal(w.t)
	case KindDate:
		y1, m1, d1 := v.t.Date()
		y2, m2, d2 := w.t.Date()
		return y1 == y2 && m1 == m2 && d1 == d2
	case KindTime:
		h1, n1, s1 := v.t.Clock()
		h2, n2, s2 := w.t.Clock()
		return h1 == h2 && n1 == n2 && s1 == s2 && v.t.Nanosecond() == w.t.Nanosecond()
	}
	return v.b == w.b && v.i == w.i && v.s == w.s && v.dt == w.dt && v.d == w.d
}
