// Package payload decodes MQTT message payloads into the typed field model
// of package sensors: every decoder returns sensors.Field values with Name,
// Value, Unit, Decimals and, when the payload carries one, Timestamp. Node,
// Types and QoS are left to the caller (the bridge knows which device and
// node a topic belongs to).
//
// The decoders are:
//
//   - Plain: a bare value as Tasmota, ESPHome and most scripts publish it:
//     "23.4", "23.4 °C" (number and unit), "true", "ON", "off", or any text.
//   - JSON: one value selected from a JSON document with a small path syntax,
//     "a.b[0].c" (see ParsePath).
//   - SenMLJSON and SenMLCBOR: Sensor Measurement Lists (RFC 8428) in JSON
//     and in CBOR with the integer labels of RFC 8428 §6, with base name,
//     time, unit, value and sum resolved and relative times made absolute.
//   - Homie: a property value of the Homie convention v4 for its $datatype
//     (integer, float, boolean, string, enum, color, datetime, duration).
//
// Every decoder refuses payloads larger than its bound (ErrTooLarge),
// reports malformed input with an error wrapping ErrSyntax, a value of the
// wrong type with ErrType, and never panics; each has a fuzz target.
package payload
