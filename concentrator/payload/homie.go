package payload

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/xiot/xiot/sensors"
)

// Homie v4 property datatypes ($datatype).
const (
	HomieInteger  = "integer"
	HomieFloat    = "float"
	HomieBoolean  = "boolean"
	HomieString   = "string"
	HomieEnum     = "enum"
	HomieColor    = "color"
	HomieDatetime = "datetime"
	HomieDuration = "duration"
)

// HomieKind returns the field value kind a Homie datatype decodes to; an
// empty datatype is a string (Homie v4 §Property attributes).
func HomieKind(datatype string) (sensors.Kind, error) {
	switch datatype {
	case HomieInteger:
		return sensors.KindLong, nil
	case HomieFloat:
		return sensors.KindNumeric, nil
	case HomieBoolean:
		return sensors.KindBoolean, nil
	case HomieString, HomieColor, "":
		return sensors.KindString, nil
	case HomieEnum:
		return sensors.KindEnum, nil
	case HomieDatetime:
		return sensors.KindDateTime, nil
	case HomieDuration:
		return sensors.KindDuration, nil
	}
	return sensors.KindNone, fmt.Errorf("payload: homie: unknown $datatype %q: %w", clip(datatype), ErrType)
}

// Homie decodes a property value of the Homie convention v4 for its
// $datatype and $format: integer (a long), float (numeric with its
// decimals), boolean (exactly "true" or "false"), string, enum (one of the
// comma-separated $format values; the enum's data type is the $format),
// color ("r,g,b" or "h,s,v" as $format says, kept as text), datetime (ISO
// 8601) and duration (ISO 8601, "PT12H5M46S"). The field has no name,
// unit or timestamp.
func Homie(p []byte, datatype, format string, maxSize int) (sensors.Field, error) {
	if err := checkSize("homie", p, maxSize); err != nil {
		return sensors.Field{}, err
	}
	f, err := homie(p, datatype, format)
	if err != nil {
		return sensors.Field{}, fmt.Errorf("payload: homie %s: %w", datatype, err)
	}
	return f, nil
}

func homie(p []byte, datatype, format string) (sensors.Field, error) {
	if !utf8.Valid(p) {
		return sensors.Field{}, fmt.Errorf("not UTF-8 text: %w", ErrSyntax)
	}
	s := string(p)
	notA := func(what string) error { return fmt.Errorf("%q is not %s: %w", clip(s), what, ErrType) }
	switch datatype {
	case HomieString, "":
		return sensors.Field{Value: sensors.String(s)}, nil
	case HomieInteger:
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return sensors.Field{}, notA("an integer")
		}
		return sensors.Field{Value: sensors.Long(i)}, nil
	case HomieFloat:
		f, dec, ok := parseNumber(s)
		if !ok {
			return sensors.Field{}, notA("a float")
		}
		return sensors.Field{Value: sensors.Numeric(f), Decimals: dec}, nil
	case HomieBoolean:
		switch s {
		case "true", "false":
			return sensors.Field{Value: sensors.Boolean(s == "true")}, nil
		}
		return sensors.Field{}, notA(`"true" or "false"`)
	case HomieEnum:
		for _, o := range strings.Split(format, ",") {
			if o == s && s != "" {
				return sensors.Field{Value: sensors.Enum(s, format)}, nil
			}
		}
		return sensors.Field{}, notA("one of " + strconv.Quote(clip(format)))
	case HomieColor:
		if err := checkColor(s, format); err != nil {
			return sensors.Field{}, err
		}
		return sensors.Field{Value: sensors.String(s)}, nil
	case HomieDatetime:
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04"} {
			if t, err := time.Parse(layout, s); err == nil {
				return sensors.Field{Value: sensors.DateTime(t)}, nil
			}
		}
		return sensors.Field{}, notA("an ISO 8601 date and time")
	case HomieDuration:
		v, _, err := sensors.ParseValue(sensors.KindDuration, s)
		if err != nil || strings.TrimSpace(s) != s {
			return sensors.Field{}, notA("an ISO 8601 duration")
		}
		return sensors.Field{Value: v}, nil
	}
	return sensors.Field{}, fmt.Errorf("unknown $datatype: %w", ErrType)
}

// checkColor validates "r,g,b" (0..255 each) or "h,s,v" (0..360, 0..100,
// 0..100) as format says.
func checkColor(s, format string) error {
	limits := map[string][3]int{"rgb": {255, 255, 255}, "hsv": {360, 100, 100}}
	lim, ok := limits[format]
	if !ok {
		return fmt.Errorf("color $format %q is neither rgb nor hsv: %w", clip(format), ErrType)
	}
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return fmt.Errorf("color %q: want three comma-separated numbers: %w", clip(s), ErrType)
	}
	for i, part := range parts {
		n, err := strconv.Atoi(part)
		if err != nil || n < 0 || n > lim[i] {
			return fmt.Errorf("color %q: component %d must be 0..%d: %w", clip(s), i+1, lim[i], ErrType)
		}
	}
	return nil
}
