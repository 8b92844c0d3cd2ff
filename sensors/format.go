package sensors

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Lexical forms of the XML Schema types XEP-0323 uses.
const (
	xsDate     = "2006-01-02"
	xsDateTime = "2006-01-02T15:04:05.999999999Z07:00"
	xsTime     = "15:04:05.999999999"
)

// Format returns the value in the lexical form of its XML Schema type, as the
// value attribute of its XEP-0323 element: numeric values with exactly
// decimals digits after the point (exact halves round to even as strconv
// does; negative decimals count as 0; NaN and infinities
// as xs:double spells them), booleans as true/false, dates as xs:date,
// xs:dateTime and xs:time, durations as xs:duration. decimals is ignored for
// other kinds. KindNone formats as "".
func (v Value) Format(decimals int) string {
	switch v.kind {
	case KindNumeric:
		return formatDouble(v.f, decimals)
	case KindBoolean:
		return strconv.FormatBool(v.b)
	case KindInt, KindLong:
		return strconv.FormatInt(v.i, 10)
	case KindString, KindEnum:
		return v.s
	case KindDate:
		return v.t.Format(xsDate)
	case KindDateTime:
		return v.t.Format(xsDateTime)
	case KindTime:
		return v.t.Format(xsTime)
	case KindDuration:
		return formatDuration(v.d)
	}
	return ""
}

func formatDouble(f float64, decimals int) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "INF"
	case math.IsInf(f, -1):
		return "-INF"
	}
	if decimals < 0 {
		decimals = 0
	}
	s := strconv.FormatFloat(f, 'f', decimals, 64)
	if strings.Trim(s, "-0.") == "" {
		s = strings.TrimPrefix(s, "-") // no "-0.00" for tiny negatives
	}
	return s
}

// formatDuration writes d as xs:duration using days, hours, minutes and
// seconds only, since time.Duration has no calendar months or years.
func formatDuration(d time.Duration) string {
	var b strings.Builder
	// Work in unsigned nanoseconds so math.MinInt64 negates safely.
	n := uint64(d)
	if d < 0 {
		b.WriteByte('-')
		n = uint64(-(d + 1)) + 1
	}
	b.WriteByte('P')
	const day = uint64(24 * time.Hour)
	if days := n / day; days > 0 {
		b.WriteString(strconv.FormatUint(days, 10) + "D")
		n %= day
	}
	if n == 0 {
		if b.Len() <= 2 {
			b.WriteString("T0S")
		}
		return b.String()
	}
	b.WriteByte('T')
	if h := n / uint64(time.Hour); h > 0 {
		b.WriteString(strconv.FormatUint(h, 10) + "H")
		n %= uint64(time.Hour)
	}
	if m := n / uint64(time.Minute); m > 0 {
		b.WriteString(strconv.FormatUint(m, 10) + "M")
		n %= uint64(time.Minute)
	}
	if n > 0 {
		s := strconv.FormatUint(n/uint64(time.Second), 10)
		if frac := n % uint64(time.Second); frac > 0 {
			s += strings.TrimRight(fmt.Sprintf(".%09d", frac), "0")
		}
		b.WriteString(s + "S")
	}
	return b.String()
}

// ParseValue parses the value attribute text of a XEP-0323 field element of
// kind k. For numeric values it also returns the number of decimals the text
// carries ("21.50" has 2), which XEP-0323 asks every party to keep. Enum
// values come back with an empty data type: it is a separate attribute, so
// build those with Enum. Dates and times without a zone are read as UTC.
func ParseValue(k Kind, s string) (v Value, decimals int, err error) {
	switch k {
	case KindNumeric:
		f, d, err := parseDouble(s)
		return Numeric(f), d, err
	case KindBoolean:
		switch strings.TrimSpace(s) {
		case "true", "1":
			return Boolean(true), 0, nil
		case "false", "0":
			return Boolean(false), 0, nil
		}
		return Value{}, 0, fmt.Errorf("sensors: invalid boolean %q", s)
	case KindInt:
		i, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
		if err != nil {
			return Value{}, 0, fmt.Errorf("sensors: invalid int %q: %w", s, err)
		}
		return Int(int32(i)), 0, nil
	case KindLong:
		i, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return Value{}, 0, fmt.Errorf("sensors: invalid long %q: %w", s, err)
		}
		return Long(i), 0, nil
	case KindString:
		return String(s), 0, nil
	case KindEnum:
		return Enum(s, ""), 0, nil
	case KindDate:
		t, err := parseTime(s, xsDate)
		return Date(t), 0, err
	case KindDateTime:
		t, err := parseTime(s, "2006-01-02T15:04:05.999999999")
		return DateTime(t), 0, err
	case KindTime:
		t, err := parseTime(s, xsTime)
		return TimeOfDay(t), 0, err
	case KindDuration:
		d, err := parseDuration(s)
		return Duration(d), 0, err
	}
	return Value{}, 0, fmt.Errorf("sensors: cannot parse a value of kind %s", k)
}

func parseDouble(s string) (float64, int, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "NaN":
		return math.NaN(), 0, nil
	case "INF", "+INF":
		return math.Inf(1), 0, nil
	case "-INF":
		return math.Inf(-1), 0, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || strings.ContainsAny(s, "xXpP_nNiI") {
		return 0, 0, fmt.Errorf("sensors: invalid numeric %q", s)
	}
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant = s[:i]
		exp, _ = strconv.Atoi(s[i+1:])
	}
	decimals := 0
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		decimals = len(mant) - i - 1
	}
	return f, max(decimals-exp, 0), nil
}

// parseTime reads layout optionally followed by a zone ("Z" or "±hh:mm").
func parseTime(s, layout string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range []string{layout + "Z07:00", layout} {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("sensors: invalid xs date/time %q for layout %s", s, layout)
}

// parseDuration reads xs:duration ("-P1DT2H3M4.5S"). Years and months are
// rejected unless zero, since they have no fixed length.
func parseDuration(s string) (time.Duration, error) {
	orig := s
	bad := func(why string) (time.Duration, error) {
		return 0, fmt.Errorf("sensors: invalid xs:duration %q: %s", orig, why)
	}
	s = strings.TrimSpace(s)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	if !strings.HasPrefix(s, "P") || len(s) < 2 || strings.HasSuffix(s, "T") {
		return bad("want P[nD][T[nH][nM][nS]]")
	}
	s = s[1:]
	var total float64 // nanoseconds
	inTime := false
	for s != "" {
		if s[0] == 'T' {
			if inTime {
				return bad("two T designators")
			}
			inTime = true
			s = s[1:]
			continue
		}
		i := strings.IndexAny(s, "YMDHS")
		if i <= 0 {
			return bad("number without designator")
		}
		n, err := strconv.ParseFloat(s[:i], 64)
		if err != nil || n < 0 || strings.ContainsAny(s[:i], "eE+-") {
			return bad("bad number " + s[:i])
		}
		unit := s[i]
		s = s[i+1:]
		var scale float64
		switch {
		case !inTime && unit == 'Y', !inTime && unit == 'M':
			if n != 0 {
				return bad("years and months have no fixed length")
			}
		case !inTime && unit == 'D':
			scale = float64(24 * time.Hour)
		case inTime && unit == 'H':
			scale = float64(time.Hour)
		case inTime && unit == 'M':
			scale = float64(time.Minute)
		case inTime && unit == 'S':
			scale = float64(time.Second)
		default:
			return bad("misplaced designator " + string(unit))
		}
		total += n * scale
	}
	if total > math.MaxInt64 {
		return bad("too long")
	}
	d := time.Duration(math.Round(total))
	if neg {
		d = -d
	}
	return d, nil
}
