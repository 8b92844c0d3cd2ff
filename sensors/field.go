package sensors

import (
	"errors"
	"fmt"
	"time"
)

// Field is one value read from a sensor: the data model every protocol
// serialises (XEP-0323 field elements, MQTT payloads, CLI tables). It holds
// no localisation (no module or stringIds).
type Field struct {
	// Node is the id of the node the field belongs to (XEP-0323 nodeId); ""
	// is the device itself.
	Node string
	// Name is the field name, e.g. "Temperature".
	Name string
	// Value is the typed value; its kind selects the XEP-0323 element.
	Value Value
	// Unit is the unit of a numeric value, e.g. "°C"; "" for none.
	Unit string
	// Decimals is the number of decimals of a numeric value (nrDecimals):
	// 21.5 with 2 decimals is reported as "21.50".
	Decimals int
	// Timestamp is when the value was measured.
	Timestamp time.Time
	// Types are the field types; a field has all of them at once.
	Types ReadoutType
	// QoS are the quality-of-service flags; none means automaticReadout.
	QoS QoS
	// Writable tells that the value can be set through XEP-0325.
	Writable bool
}

// Text returns the value as its XEP-0323 value attribute: numeric values
// with exactly Decimals decimals, the others in their XML Schema form.
func (f Field) Text() string { return f.Value.Format(f.Decimals) }

// String returns a one-line human form, e.g.
// "bme280/Temperature = 21.50 °C [momentary]".
func (f Field) String() string {
	s := f.Name + " = " + f.Text()
	if f.Node != "" {
		s = f.Node + "/" + s
	}
	if f.Unit != "" {
		s += " " + f.Unit
	}
	s += " [" + f.Types.String()
	if f.QoS != 0 {
		s += "; " + f.QoS.String()
	}
	return s + "]"
}

// Errors returned by Field.Validate; wrapped with the field name.
var (
	ErrNoName    = errors.New("field has no name")
	ErrNoValue   = errors.New("field has no value")
	ErrNoTypes   = errors.New("field has no field type")
	ErrDecimals  = errors.New("decimals out of range 0..15")
	ErrNoTime    = errors.New("field has no timestamp")
	ErrUnitKind  = errors.New("unit on a non-numeric value")
	ErrEnumNoTyp = errors.New("enum value without data type")
)

// Validate reports the first reason the field cannot be sent as a XEP-0323
// field element, or nil.
func (f Field) Validate() error {
	var err error
	switch {
	case f.Name == "":
		err = ErrNoName
	case f.Value.Kind() == KindNone:
		err = ErrNoValue
	case f.Types&AllTypes == 0:
		err = ErrNoTypes
	case f.Decimals < 0 || f.Decimals > 15:
		err = ErrDecimals
	case f.Timestamp.IsZero():
		err = ErrNoTime
	case f.Unit != "" && f.Value.Kind() != KindNumeric:
		err = ErrUnitKind
	case f.Value.Kind() == KindEnum && f.Value.DataType() == "":
		err = ErrEnumNoTyp
	}
	if err != nil {
		return fmt.Errorf("sensors: field %q: %w", f.Name, err)
	}
	return nil
}

// FieldSpec declares a field a sensor reports, so that service discovery,
// forms and the CLI can list fields, units and types without reading the
// hardware.
type FieldSpec struct {
	Name     string      // field name, e.g. "Temperature"
	Kind     Kind        // kind of the values
	Unit     string      // unit of numeric values, e.g. "°C"
	Decimals int         // decimals of numeric values
	Types    ReadoutType // field types of the values
	DataType string      // data type of enum values
	Writable bool        // whether XEP-0325 can set it
}

// Field returns a field of this spec for node with value v read at ts and
// the given QoS flags.
func (s FieldSpec) Field(node string, v Value, ts time.Time, q QoS) Field {
	return Field{
		Node: node, Name: s.Name, Value: v, Unit: s.Unit, Decimals: s.Decimals,
		Timestamp: ts, Types: s.Types, QoS: q, Writable: s.Writable,
	}
}

// Filter returns the fields whose types intersect types, in order; the zero
// set selects every field. It reuses the backing array of fields.
func Filter(fields []Field, types ReadoutType) []Field {
	if types&AllTypes == 0 {
		return fields
	}
	out := fields[:0]
	for _, f := range fields {
		if f.Types.Intersects(types) {
			out = append(out, f)
		}
	}
	return out
}
