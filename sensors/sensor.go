package sensors

import (
	"context"
)

// Sensor is a source of fields for one node, shaped like a periph device:
// String names it, Read takes a measurement, Halt releases it.
//
// Read returns the fields whose types intersect types (the zero set means
// every type), all stamped with the same timestamp. It honours ctx for any
// wait (conversion time, bus access). A failed read returns a nil slice and
// an error that names the bus, the address and the likely cause.
//
// Fields lists what Read can return, without touching the hardware.
// Implementations are safe for concurrent use.
type Sensor interface {
	String() string
	Node() string
	Fields() []FieldSpec
	Read(ctx context.Context, types ReadoutType) ([]Field, error)
	Halt() error
}

// Specs returns the specs of the sensor's fields that intersect types (the
// zero set means all).
func Specs(s Sensor, types ReadoutType) []FieldSpec {
	var out []FieldSpec
	for _, f := range s.Fields() {
		if types&AllTypes == 0 || f.Types.Intersects(types) {
			out = append(out, f)
		}
	}
	return out
}
