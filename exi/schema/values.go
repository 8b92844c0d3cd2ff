package schema

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// ErrLexical reports a lexical form that is not valid for the datatype;
// in non-strict mode the codec then encodes the value as an untyped
// string (second-level AT/CH production).
var ErrLexical = errors.New("invalid lexical value")

func lexErr(kind, s string) error { return fmt.Errorf("%w for %s: %q", ErrLexical, kind, s) }

// ParseBoolean parses xs:boolean ("true", "false", "1", "0").
func ParseBoolean(s string) (bool, error) {
	switch NormalizeSpace(s, WSCollapse) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, lexErr("boolean", s)
}

// BooleanPatternIndex returns the 2-bit value of a boolean with a pattern
// facet (§7.1.2): false=0, 0=1, true=2, 1=3.
func BooleanPatternIndex(s string) (int, error) {
	switch NormalizeSpace(s, WSCollapse) {
	case "false":
		return 0, nil
	case "0":
		return 1, nil
	case "true":
		return 2, nil
	case "1":
		return 3, nil
	}
	return 0, lexErr("boolean", s)
}

// FormatBooleanPattern is the inverse of BooleanPatternIndex.
func FormatBooleanPattern(i int) string {
	return [...]string{"false", "0", "true", "1"}[i&3]
}

// Decimal is an xs:decimal in the parts §7.1.3 encodes: sign, integral
// part, and the fractional digits in reverse order.
type Decimal struct {
	Negative bool
	Integral *big.Int
	// FractionReversed is the fractional digits reversed, as an integer
	// ("0.0500" → digits "0500" → "0050" → 50).
	FractionReversed *big.Int
}

// ParseDecimal parses an xs:decimal lexical form.
func ParseDecimal(s string) (Decimal, error) {
	v := NormalizeSpace(s, WSCollapse)
	d := Decimal{}
	if v != "" && (v[0] == '-' || v[0] == '+') {
		d.Negative = v[0] == '-'
		v = v[1:]
	}
	ip, fp, _ := strings.Cut(v, ".")
	if (ip == "" && fp == "") || !allDigits(ip) || !allDigits(fp) {
		return Decimal{}, lexErr("decimal", s)
	}
	if ip == "" {
		ip = "0"
	}
	d.Integral, _ = new(big.Int).SetString(ip, 10)
	rev := reverse(fp)
	if rev == "" {
		rev = "0"
	}
	d.FractionReversed, _ = new(big.Int).SetString(rev, 10)
	if d.Integral.Sign() == 0 && d.FractionReversed.Sign() == 0 {
		d.Negative = false
	}
	return d, nil
}

// String prints the decimal ("-1.5", "0.0").
func (d Decimal) String() string {
	s := "0"
	if d.Integral != nil {
		s = d.Integral.String()
	}
	f := "0"
	if d.FractionReversed != nil {
		f = reverse(d.FractionReversed.String())
	}
	if d.Negative {
		s = "-" + s
	}
	return s + "." + f
}

// Float is an xs:float or xs:double as §7.1.4 encodes it: mantissa and
// base-10 exponent, taken from the lexical form without normalization
// (23.4 → 234, -1), as EXIficient does.
type Float struct {
	Mantissa int64
	Exponent int64
}

// FloatSpecialExponent marks INF (mantissa 1), -INF (-1) and NaN (other).
const FloatSpecialExponent = -(1 << 14)

// ParseFloat parses an xs:float/xs:double lexical form; values whose
// mantissa or exponent do not fit EXI's ranges are ErrLexical.
func ParseFloat(s string) (Float, error) {
	v := NormalizeSpace(s, WSCollapse)
	switch v {
	case "INF", "+INF":
		return Float{1, FloatSpecialExponent}, nil
	case "-INF":
		return Float{-1, FloatSpecialExponent}, nil
	case "NaN":
		return Float{0, FloatSpecialExponent}, nil
	}
	m, e := v, ""
	if i := strings.IndexAny(v, "eE"); i >= 0 {
		m, e = v[:i], v[i+1:]
	}
	neg := false
	if m != "" && (m[0] == '-' || m[0] == '+') {
		neg = m[0] == '-'
		m = m[1:]
	}
	ip, fp, _ := strings.Cut(m, ".")
	if (ip == "" && fp == "") || !allDigits(ip) || !allDigits(fp) {
		return Float{}, lexErr("float", s)
	}
	exp := int64(0)
	if e != "" {
		x, err := strconv.ParseInt(strings.TrimPrefix(e, "+"), 10, 64)
		if err != nil {
			return Float{}, lexErr("float", s)
		}
		exp = x
	}
	digits := strings.TrimLeft(ip+fp, "0")
	if digits == "" {
		digits = "0"
	}
	if neg {
		digits = "-" + digits
	}
	mant, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return Float{}, lexErr("float", s)
	}
	exp -= int64(len(fp))
	// EXIficient drops trailing zeros of the mantissa (40.0 → 4E1).
	for mant != 0 && mant%10 == 0 {
		mant /= 10
		exp++
	}
	if mant == 0 {
		exp = 0
	}
	if exp <= FloatSpecialExponent || exp >= 1<<14 {
		return Float{}, lexErr("float", s)
	}
	return Float{mant, exp}, nil
}

// String prints the value as EXIficient does ("234E-1", "INF").
func (f Float) String() string {
	if f.Exponent == FloatSpecialExponent {
		switch f.Mantissa {
		case 1:
			return "INF"
		case -1:
			return "-INF"
		}
		return "NaN"
	}
	var b [41]byte // two int64 and the E: one allocation, for the string
	buf := strconv.AppendInt(b[:0], f.Mantissa, 10)
	buf = append(buf, 'E')
	return string(strconv.AppendInt(buf, f.Exponent, 10))
}

// ParseInteger parses an xs:integer lexical form of any size.
func ParseInteger(s string) (*big.Int, error) {
	if len(s) < 19 && s != "" && s[0] != '+' {
		if x, err := strconv.ParseInt(s, 10, 64); err == nil {
			return big.NewInt(x), nil
		}
	}
	v := strings.TrimPrefix(NormalizeSpace(s, WSCollapse), "+")
	if v == "" || !allDigits(strings.TrimPrefix(v, "-")) || v == "-" {
		return nil, lexErr("integer", s)
	}
	x, ok := new(big.Int).SetString(v, 10)
	if !ok {
		return nil, lexErr("integer", s)
	}
	return x, nil
}

// ParseBinary decodes base64Binary or hexBinary content.
func ParseBinary(rep Representation, s string) ([]byte, error) {
	v := strings.Join(strings.Fields(s), "")
	var b []byte
	var err error
	if rep == RepBinaryHex {
		b, err = hex.DecodeString(v)
	} else {
		b, err = base64.StdEncoding.DecodeString(v)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrLexical, err)
	}
	return b, nil
}

// FormatBinary prints binary content in canonical form.
func FormatBinary(rep Representation, b []byte) string {
	if rep == RepBinaryHex {
		return strings.ToUpper(hex.EncodeToString(b))
	}
	return base64.StdEncoding.EncodeToString(b)
}

// ParseQName splits a QName lexical form into prefix and local name.
func ParseQName(s string) (prefix, local string, err error) {
	v := NormalizeSpace(s, WSCollapse)
	prefix, local, found := strings.Cut(v, ":")
	if !found {
		prefix, local = "", v
	}
	if local == "" || strings.ContainsAny(local, ": ") || (found && prefix == "") {
		return "", "", lexErr("QName", s)
	}
	return prefix, local, nil
}

// ParseList splits a list value into its items.
func ParseList(s string) []string { return strings.Fields(s) }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func reverse(s string) string {
	b := []byte(s)
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return string(b)
}
