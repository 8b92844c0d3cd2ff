package payload

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"

	"github.com/xiot/xiot/sensors"
)

// SenML labels (RFC 8428 §4.1 and §6): JSON names and CBOR integer labels.
var senmlLabels = map[string]int{
	"bver": -1, "bn": -2, "bt": -3, "bu": -4, "bv": -5, "bs": -6,
	"n": 0, "u": 1, "v": 2, "vs": 3, "vb": 4, "s": 5, "t": 6, "ut": 7, "vd": 8,
}

// Label numbers, as CBOR spells them.
const (
	lBver, lBn, lBt, lBu, lBv, lBs = -1, -2, -3, -4, -5, -6
	lN, lU, lV, lVs, lVb, lS, lT   = 0, 1, 2, 3, 4, 5, 6
	lUt, lVd                       = 7, 8
)

// relativeLimit is 2**28 s: resolved times below it are relative to now
// (RFC 8428 §4.5.3).
const relativeLimit = 1 << 28

// maxNameLen bounds a resolved SenML name.
const maxNameLen = 512

// Record is one resolved SenML record (RFC 8428 §4.6) as a field: Name is
// the resolved name (base name + name), Value the value (v, vs, vb, vd as
// base64url text, or the sum s when no other value is given), Unit the
// resolved unit (with "Cel" written "°C"; only on numeric values) and
// Timestamp the absolute time. BaseName is the base name the record was
// resolved with, so callers can strip a device prefix; Sum is the sum
// value, when the record has one beside another value.
type Record struct {
	sensors.Field
	BaseName string
	Sum      *float64
}

// LocalName returns the name without the base name, or Name when that
// leaves nothing.
func (r Record) LocalName() string {
	if l := strings.TrimPrefix(r.Name, r.BaseName); l != "" {
		return l
	}
	return r.Name
}

// cborOptions bound CBOR decoding: nesting, array and map sizes, and
// duplicate keys are refused.
var cborOptions = cbor.DecOptions{
	MaxNestedLevels:  4,
	MaxArrayElements: MaxRecords,
	MaxMapPairs:      64,
	DupMapKey:        cbor.DupMapKeyEnforcedAPF,
	IndefLength:      cbor.IndefLengthAllowed,
}

// SenMLJSON decodes a SenML pack in JSON (application/senml+json) and
// resolves it; now is the time relative times count from.
func SenMLJSON(p []byte, now time.Time, maxSize int) ([]Record, error) {
	if err := checkSize("senml+json", p, maxSize); err != nil {
		return nil, err
	}
	doc, err := decodeJSON(p)
	if err != nil {
		return nil, fmt.Errorf("payload: senml+json: %w", err)
	}
	arr, ok := doc.([]any)
	if !ok {
		return nil, fmt.Errorf("payload: senml+json: pack is %s, not an array: %w", jsonKind(doc), ErrSyntax)
	}
	if len(arr) > MaxRecords {
		return nil, fmt.Errorf("payload: senml+json: %d records: %w (limit %d)", len(arr), ErrTooLarge, MaxRecords)
	}
	raws := make([]map[int]any, 0, len(arr))
	for i, e := range arr {
		obj, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("payload: senml+json: record %d is %s, not an object: %w", i, jsonKind(e), ErrSyntax)
		}
		r := make(map[int]any, len(obj))
		for k, v := range obj {
			l, known := senmlLabels[k]
			if !known {
				if strings.HasSuffix(k, "_") {
					return nil, fmt.Errorf("payload: senml+json: record %d: must-understand label %q not supported: %w", i, clip(k), ErrSyntax)
				}
				continue
			}
			if l == lVd {
				s, ok := v.(string)
				if !ok {
					return nil, fmt.Errorf("payload: senml+json: record %d: vd is %s, not base64url text: %w", i, jsonKind(v), ErrType)
				}
				b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
				if err != nil {
					return nil, fmt.Errorf("payload: senml+json: record %d: vd: %w: %w", i, ErrType, err)
				}
				v = b
			}
			r[l] = v
		}
		raws = append(raws, r)
	}
	recs, err := resolve(raws, now)
	if err != nil {
		return nil, fmt.Errorf("payload: senml+json: %w", err)
	}
	return recs, nil
}

// SenMLCBOR decodes a SenML pack in CBOR (application/senml+cbor, integer
// labels of RFC 8428 §6) and resolves it; now is the time relative times
// count from.
func SenMLCBOR(p []byte, now time.Time, maxSize int) ([]Record, error) {
	if err := checkSize("senml+cbor", p, maxSize); err != nil {
		return nil, err
	}
	dm, err := cborOptions.DecMode()
	if err != nil {
		return nil, fmt.Errorf("payload: senml+cbor: decoder options: %w", err)
	}
	var arr []map[any]any
	if err := dm.Unmarshal(p, &arr); err != nil {
		return nil, fmt.Errorf("payload: senml+cbor: %w: %w", ErrSyntax, err)
	}
	raws := make([]map[int]any, 0, len(arr))
	for i, m := range arr {
		r := make(map[int]any, len(m))
		for k, v := range m {
			var l int64
			switch x := k.(type) {
			case uint64:
				if x > 1<<20 {
					continue
				}
				l = int64(x)
			case int64:
				l = x
			case string:
				// RFC 8428 §6 uses integer labels; some encoders write the
				// JSON names instead, which are accepted too.
				sl, known := senmlLabels[x]
				if !known {
					if strings.HasSuffix(x, "_") {
						return nil, fmt.Errorf("payload: senml+cbor: record %d: must-understand label %q not supported: %w", i, clip(x), ErrSyntax)
					}
					continue
				}
				l = int64(sl)
			default:
				return nil, fmt.Errorf("payload: senml+cbor: record %d: label of type %T: %w", i, k, ErrSyntax)
			}
			if l < lBs || l > lVd {
				continue // an extension label we do not know
			}
			if l == lVd {
				if _, ok := v.([]byte); !ok {
					return nil, fmt.Errorf("payload: senml+cbor: record %d: vd is %T, not a byte string: %w", i, v, ErrType)
				}
			}
			r[int(l)] = v
		}
		raws = append(raws, r)
	}
	recs, err := resolve(raws, now)
	if err != nil {
		return nil, fmt.Errorf("payload: senml+cbor: %w", err)
	}
	return recs, nil
}

// resolve applies RFC 8428 §4.6 to records keyed by integer label.
func resolve(raws []map[int]any, now time.Time) ([]Record, error) {
	var (
		bn, bu     string
		bt, bv, bs float64
	)
	out := make([]Record, 0, len(raws))
	for i, r := range raws {
		bad := func(label string, err error) ([]Record, error) {
			return nil, fmt.Errorf("record %d: %s: %w", i, label, err)
		}
		if _, ok := r[lBver]; ok {
			if _, _, err := number(r[lBver]); err != nil {
				return bad("bver", err)
			}
		}
		var err error
		if v, ok := r[lBn]; ok {
			if bn, err = text(v); err != nil {
				return bad("bn", err)
			}
		}
		if v, ok := r[lBu]; ok {
			if bu, err = text(v); err != nil {
				return bad("bu", err)
			}
		}
		for _, b := range []struct {
			label int
			name  string
			dst   *float64
		}{{lBt, "bt", &bt}, {lBv, "bv", &bv}, {lBs, "bs", &bs}} {
			if v, ok := r[b.label]; ok {
				if *b.dst, _, err = number(v); err != nil {
					return bad(b.name, err)
				}
			}
		}

		n := ""
		if v, ok := r[lN]; ok {
			if n, err = text(v); err != nil {
				return bad("n", err)
			}
		}
		unit := bu
		if v, ok := r[lU]; ok {
			if unit, err = text(v); err != nil {
				return bad("u", err)
			}
		}
		t := 0.0
		if v, ok := r[lT]; ok {
			if t, _, err = number(v); err != nil {
				return bad("t", err)
			}
		}
		if v, ok := r[lUt]; ok {
			if _, _, err = number(v); err != nil {
				return bad("ut", err)
			}
		}

		rec := Record{BaseName: bn}
		var sum *float64
		if v, ok := r[lS]; ok {
			s, _, err := number(v)
			if err != nil {
				return bad("s", err)
			}
			s += bs
			sum = &s
		}
		nvals := 0
		if v, ok := r[lV]; ok {
			f, dec, err := number(v)
			if err != nil {
				return bad("v", err)
			}
			if bv != 0 {
				f += bv
				dec = max(dec, floatDecimals(bv))
			}
			rec.Value, rec.Decimals = sensors.Numeric(f), dec
			nvals++
		}
		if v, ok := r[lVs]; ok {
			s, err := text(v)
			if err != nil {
				return bad("vs", err)
			}
			rec.Value = sensors.String(s)
			nvals++
		}
		if v, ok := r[lVb]; ok {
			b, ok := v.(bool)
			if !ok {
				return bad("vb", fmt.Errorf("%T is not a boolean: %w", v, ErrType))
			}
			rec.Value = sensors.Boolean(b)
			nvals++
		}
		if v, ok := r[lVd]; ok {
			rec.Value = sensors.String(base64.RawURLEncoding.EncodeToString(v.([]byte)))
			nvals++
		}
		if nvals > 1 {
			return bad("value", fmt.Errorf("more than one of v, vs, vb and vd: %w", ErrSyntax))
		}
		if nvals == 0 {
			if sum == nil {
				if baseOnly(r) {
					continue // a record of base values only
				}
				return bad("value", fmt.Errorf("no v, vs, vb, vd or s: %w", ErrSyntax))
			}
			rec.Value, rec.Decimals = sensors.Numeric(*sum), floatDecimals(*sum)
		} else {
			rec.Sum = sum
		}
		rec.Name = bn + n
		if err := checkName(rec.Name); err != nil {
			return bad("name", err)
		}
		if rec.Value.Kind() == sensors.KindNumeric {
			rec.Unit = senmlUnit(unit)
		}
		rec.Decimals = min(rec.Decimals, 15)
		ts, err := senmlTime(bt+t, now)
		if err != nil {
			return bad("time", err)
		}
		rec.Timestamp = ts
		if len(out) >= MaxRecords {
			return nil, fmt.Errorf("more than %d records: %w", MaxRecords, ErrTooLarge)
		}
		out = append(out, rec)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no records: %w", ErrSyntax)
	}
	return out, nil
}

// number reads a JSON or CBOR number, with its decimals.
func number(v any) (float64, int, error) {
	switch x := v.(type) {
	case json.Number:
		f, dec, ok := parseNumber(string(x))
		if !ok {
			return 0, 0, fmt.Errorf("%q is not a finite number: %w", clip(string(x)), ErrType)
		}
		return f, dec, nil
	case uint64:
		return float64(x), 0, nil
	case int64:
		return float64(x), 0, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return 0, 0, fmt.Errorf("%v is not a finite number: %w", x, ErrType)
		}
		return x, floatDecimals(x), nil
	case float32:
		return number(float64(x))
	}
	return 0, 0, fmt.Errorf("%T is not a number: %w", v, ErrType)
}

// text reads a string label value.
func text(v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%T is not a string: %w", v, ErrType)
	}
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("not UTF-8: %w", ErrSyntax)
	}
	return s, nil
}

// checkName accepts non-empty printable names of bounded length. RFC 8428
// restricts names further; devices in the field do not always follow it,
// so only what would break a field name is refused.
func checkName(n string) error {
	switch {
	case n == "":
		return fmt.Errorf("empty (no bn and no n): %w", ErrSyntax)
	case len(n) > maxNameLen:
		return fmt.Errorf("%d bytes: %w (limit %d)", len(n), ErrTooLarge, maxNameLen)
	}
	for _, r := range n {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("%q has a non-printable character: %w", clip(n), ErrSyntax)
		}
	}
	return nil
}

// senmlTime turns a resolved SenML time into an instant: values below
// 2**28 are relative to now.
func senmlTime(t float64, now time.Time) (time.Time, error) {
	const maxSeconds = 253402300799 // 9999-12-31T23:59:59Z
	if t < relativeLimit {
		if t < -relativeLimit {
			return time.Time{}, fmt.Errorf("relative time %v s out of range: %w", t, ErrType)
		}
		return now.Add(time.Duration(t * float64(time.Second))), nil
	}
	if t > maxSeconds {
		return time.Time{}, fmt.Errorf("time %v s after year 9999: %w", t, ErrType)
	}
	sec, frac := math.Modf(t)
	// Round to microseconds: SenML times are doubles, and 1.276020076001e9
	// should read as .001 s, not .000999927 s.
	ns := math.Round(frac*1e6) * 1e3
	return time.Unix(int64(sec), int64(ns)).UTC(), nil
}

// senmlUnit writes the SenML unit "Cel" as "°C", the unit the rest of xiot
// uses; other SenML units (RFC 8428 §12.1) are kept as they are.
func senmlUnit(u string) string {
	if u == "Cel" {
		return "°C"
	}
	return u
}

// baseOnly reports whether a record has base labels and nothing else.
func baseOnly(r map[int]any) bool {
	for l := range r {
		if l >= 0 {
			return false
		}
	}
	return len(r) > 0
}
