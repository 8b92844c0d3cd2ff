package payload

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/xiot/xiot/sensors"
)

// DefaultMaxSize is the largest payload a decoder accepts when its caller
// gives no bound. MQTT allows 256 MB; a sensor reading is a few hundred
// bytes.
const DefaultMaxSize = 64 << 10

// MaxRecords bounds the number of fields one SenML pack may yield.
const MaxRecords = 1024

// Errors wrapped by every decoder, for errors.Is.
var (
	// ErrTooLarge reports a payload above the decoder's size bound.
	ErrTooLarge = errors.New("payload too large")
	// ErrSyntax reports a payload that is not well-formed for its format.
	ErrSyntax = errors.New("malformed payload")
	// ErrType reports a well-formed payload whose value has the wrong type.
	ErrType = errors.New("wrong value type")
	// ErrNotFound reports a JSON path that selects nothing.
	ErrNotFound = errors.New("path not found")
)

// checkSize returns ErrTooLarge, wrapped, when p exceeds max (0 means
// DefaultMaxSize).
func checkSize(format string, p []byte, max int) error {
	if max <= 0 {
		max = DefaultMaxSize
	}
	if len(p) > max {
		return fmt.Errorf("payload: %s: %d bytes: %w (limit %d)", format, len(p), ErrTooLarge, max)
	}
	return nil
}

// Plain decodes a bare value. With kind sensors.KindNone the type is
// inferred: a number (optionally followed by a unit, "23.4 °C") is numeric,
// true/false/on/off/yes/no in any case is boolean, anything else is a
// string. With another kind the text must be of that kind; booleans also
// accept on/off/yes/no/1/0, numerics a unit suffix, int and long a unit
// suffix that is dropped (the field model keeps units on numeric values
// only), and enums get an empty data type. The field has no name and no timestamp.
func Plain(p []byte, kind sensors.Kind, maxSize int) (sensors.Field, error) {
	if err := checkSize("plain", p, maxSize); err != nil {
		return sensors.Field{}, err
	}
	if !utf8.Valid(p) {
		return sensors.Field{}, fmt.Errorf("payload: plain: not UTF-8 text: %w", ErrSyntax)
	}
	f, err := parseText(strings.TrimSpace(string(p)), kind)
	if err != nil {
		return sensors.Field{}, fmt.Errorf("payload: plain: %w", err)
	}
	return f, nil
}

// parseText reads a value of kind (KindNone: inferred) from s.
func parseText(s string, kind sensors.Kind) (sensors.Field, error) {
	switch kind {
	case sensors.KindNone:
		if b, ok := parseBool(s); ok {
			return sensors.Field{Value: sensors.Boolean(b)}, nil
		}
		if f, ok := parseNumberUnit(s); ok {
			return f, nil
		}
		return sensors.Field{Value: sensors.String(s)}, nil
	case sensors.KindBoolean:
		if b, ok := parseBool(s); ok {
			return sensors.Field{Value: sensors.Boolean(b)}, nil
		}
		if s == "1" || s == "0" {
			return sensors.Field{Value: sensors.Boolean(s == "1")}, nil
		}
		return sensors.Field{}, fmt.Errorf("%q is not a boolean: %w", clip(s), ErrType)
	case sensors.KindNumeric:
		if f, ok := parseNumberUnit(s); ok {
			return f, nil
		}
		return sensors.Field{}, fmt.Errorf("%q is not a number: %w", clip(s), ErrType)
	case sensors.KindInt, sensors.KindLong:
		// Integers may come as "21" or "21.0" from JSON-minded devices.
		if f, ok := parseNumberUnit(s); ok {
			n, _ := f.Value.Float()
			v, err := integerValue(n, kind)
			if err != nil {
				return sensors.Field{}, err
			}
			// Units live on numeric values only (sensors.Field.Validate).
			return sensors.Field{Value: v}, nil
		}
		return sensors.Field{}, fmt.Errorf("%q is not an integer: %w", clip(s), ErrType)
	}
	v, _, err := sensors.ParseValue(kind, s)
	if err != nil {
		return sensors.Field{}, fmt.Errorf("%w: %w", ErrType, err)
	}
	return sensors.Field{Value: v}, nil
}

// integerValue converts n to an int or long value, refusing fractions and
// out-of-range numbers.
func integerValue(n float64, kind sensors.Kind) (sensors.Value, error) {
	if n != math.Trunc(n) || math.IsInf(n, 0) || math.IsNaN(n) {
		return sensors.Value{}, fmt.Errorf("%v is not an integer: %w", n, ErrType)
	}
	if kind == sensors.KindInt {
		if n < math.MinInt32 || n > math.MaxInt32 {
			return sensors.Value{}, fmt.Errorf("%v is out of the int range: %w", n, ErrType)
		}
		return sensors.Int(int32(n)), nil
	}
	if n < math.MinInt64 || n >= math.MaxInt64 {
		return sensors.Value{}, fmt.Errorf("%v is out of the long range: %w", n, ErrType)
	}
	return sensors.Long(int64(n)), nil
}

// parseBool reads the usual spellings of a boolean, in any case.
func parseBool(s string) (v, ok bool) {
	switch strings.ToLower(s) {
	case "true", "on", "yes":
		return true, true
	case "false", "off", "no":
		return false, true
	}
	return false, false
}

// parseNumberUnit reads "23.4", "-1e3", "23.4 °C" or "23.4°C" into a
// numeric field with decimals and unit. Words such as "NaN" or "Inf" are
// not numbers here.
func parseNumberUnit(s string) (sensors.Field, bool) {
	end := 0
	for end < len(s) && strings.IndexByte("0123456789+-.eE", s[end]) >= 0 {
		end++
	}
	num, unit := s[:end], strings.TrimSpace(s[end:])
	// An exponent letter right before the unit belongs to the unit ("5 EUR").
	for strings.HasSuffix(num, "e") || strings.HasSuffix(num, "E") {
		num = num[:len(num)-1]
		unit = strings.TrimSpace(s[len(num):])
	}
	if num == "" || len(unit) > 32 {
		return sensors.Field{}, false
	}
	if unit != "" {
		r, _ := utf8.DecodeRuneInString(unit)
		// A unit starts with a letter or a symbol: "°C", "%", "µg/m³", "kWh".
		if !unicode.IsLetter(r) && !unicode.IsSymbol(r) && r != '%' {
			return sensors.Field{}, false
		}
	}
	v, dec, ok := parseNumber(num)
	if !ok {
		return sensors.Field{}, false
	}
	return sensors.Field{Value: sensors.Numeric(v), Decimals: dec, Unit: unit}, true
}

// parseNumber reads a finite decimal number and the number of decimals it
// is written with (at most 15, the limit of the field model).
func parseNumber(s string) (float64, int, bool) {
	if s == "" || strings.ContainsAny(s, "xXpP_nNiI") {
		return 0, 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, 0, false
	}
	return f, decimalsOf(s), true
}

// decimalsOf counts the decimals of a number's text ("21.50" has 2,
// "2.5e-3" has 4), clamped to 0..15.
func decimalsOf(s string) int {
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant = s[:i]
		e, err := strconv.Atoi(s[i+1:])
		if err != nil {
			return 0
		}
		exp = e
	}
	d := 0
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		d = len(mant) - i - 1
	}
	return min(max(d-exp, 0), 15)
}

// floatDecimals is the number of decimals of the shortest text of f.
func floatDecimals(f float64) int {
	return decimalsOf(strconv.FormatFloat(f, 'g', -1, 64))
}

// clip shortens s for error messages.
func clip(s string) string {
	const n = 40
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}
