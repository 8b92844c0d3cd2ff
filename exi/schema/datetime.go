package schema

import (
	"fmt"
	"strconv"
	"strings"
)

// DateTime holds the components §7.1.8 encodes. Only the components of
// the value's DateTimeKind are meaningful.
type DateTime struct {
	Year                 int64 // full year (the encoding stores Year-2000)
	Month, Day           int
	Hour, Minute, Second int
	// Frac is the fractional-second digits as written ("" when absent).
	Frac string
	// HasTZ and TZMinutes are the timezone offset (Z is 0).
	HasTZ     bool
	TZMinutes int
}

// MonthDay is the 9-bit Month*32+Day component.
func (d DateTime) MonthDay() int { return d.Month*32 + d.Day }

// TimeValue is the 17-bit ((Hour*64)+Minute)*64+Second component.
func (d DateTime) TimeValue() int { return (d.Hour*64+d.Minute)*64 + d.Second }

// FracReversed is the fractional seconds with digits reversed (§7.1.8,
// like Decimal fractions); ok is false when there are none.
func (d DateTime) FracReversed() (v uint64, ok bool, err error) {
	if d.Frac == "" {
		return 0, false, nil
	}
	v, err = strconv.ParseUint(reverse(d.Frac), 10, 64)
	return v, true, err
}

// TZValue is the 11-bit timezone component: (hours*64 + minutes) + 896.
func (d DateTime) TZValue() int {
	h, m := d.TZMinutes/60, d.TZMinutes%60
	return h*64 + m + 896
}

// ParseDateTime parses the lexical form of a date/time type of kind k.
func ParseDateTime(k DateTimeKind, s string) (DateTime, error) {
	v := NormalizeSpace(s, WSCollapse)
	var d DateTime
	rest, err := d.parseTZ(v)
	if err != nil {
		return d, lexErr(k.String(), s)
	}
	ok := true
	switch k {
	case GYear:
		ok = d.parseYear(rest)
	case GYearMonth:
		y, m, found := cutLast(rest, "-")
		ok = found && d.parseYear(y) && atoi2(m, &d.Month)
	case Date:
		ok = d.parseDate(rest)
	case DateTimeFull:
		dp, tp, found := strings.Cut(rest, "T")
		ok = found && d.parseDate(dp) && d.parseTime(tp)
	case Time:
		ok = d.parseTime(rest)
	case GMonth:
		ok = strings.HasPrefix(rest, "--") && len(rest) == 4 && atoi2(rest[2:], &d.Month)
	case GMonthDay:
		ok = strings.HasPrefix(rest, "--") && len(rest) == 7 && rest[4] == '-' && atoi2(rest[2:4], &d.Month) && atoi2(rest[5:], &d.Day)
	case GDay:
		ok = strings.HasPrefix(rest, "---") && len(rest) == 5 && atoi2(rest[3:], &d.Day)
	default:
		ok = false
	}
	if !ok || d.Month > 12 || d.Day > 31 || d.Hour > 24 || d.Minute > 59 || d.Second > 60 {
		return DateTime{}, lexErr(k.String(), s)
	}
	return d, nil
}

func (d *DateTime) parseTZ(v string) (string, error) {
	if strings.HasSuffix(v, "Z") {
		d.HasTZ = true
		return v[:len(v)-1], nil
	}
	if len(v) >= 6 && (v[len(v)-6] == '+' || v[len(v)-6] == '-') && v[len(v)-3] == ':' {
		var h, m int
		if !atoi2(v[len(v)-5:len(v)-3], &h) || !atoi2(v[len(v)-2:], &m) || h > 14 || m > 59 {
			return "", fmt.Errorf("bad timezone")
		}
		d.HasTZ = true
		d.TZMinutes = h*60 + m
		if v[len(v)-6] == '-' {
			d.TZMinutes = -d.TZMinutes
		}
		return v[:len(v)-6], nil
	}
	return v, nil
}

func (d *DateTime) parseYear(y string) bool {
	digits := strings.TrimPrefix(y, "-")
	if len(digits) < 4 || !allDigits(digits) {
		return false
	}
	n, err := strconv.ParseInt(y, 10, 64)
	d.Year = n
	return err == nil
}

func (d *DateTime) parseDate(s string) bool {
	ym, day, ok := cutLast(s, "-")
	if !ok {
		return false
	}
	y, m, ok := cutLast(ym, "-")
	return ok && d.parseYear(y) && atoi2(m, &d.Month) && atoi2(day, &d.Day)
}

func (d *DateTime) parseTime(s string) bool {
	if len(s) < 8 || s[2] != ':' || s[5] != ':' {
		return false
	}
	if !atoi2(s[0:2], &d.Hour) || !atoi2(s[3:5], &d.Minute) || !atoi2(s[6:8], &d.Second) {
		return false
	}
	if len(s) > 8 {
		if s[8] != '.' || len(s) == 9 || !allDigits(s[9:]) {
			return false
		}
		d.Frac = s[9:]
	}
	return true
}

func cutLast(s, sep string) (string, string, bool) {
	i := strings.LastIndex(s, sep)
	if i <= 0 {
		return "", "", false
	}
	return s[:i], s[i+1:], true
}

func atoi2(s string, out *int) bool {
	if len(s) != 2 || !allDigits(s) {
		return false
	}
	*out = int(s[0]-'0')*10 + int(s[1]-'0')
	return true
}

// FormatDateTime prints d as the lexical form of kind k.
func FormatDateTime(k DateTimeKind, d DateTime) string {
	b := make([]byte, 0, 32)
	two := func(v int) {
		if v < 0 {
			v = -v
		}
		b = append(b, byte('0'+v/10%10), byte('0'+v%10))
	}
	year := func() {
		y := d.Year
		if y < 0 {
			b = append(b, '-')
			y = -y
		}
		for n := len(strconv.FormatInt(y, 10)); n < 4; n++ {
			b = append(b, '0')
		}
		b = strconv.AppendInt(b, y, 10)
	}
	tm := func() {
		two(d.Hour)
		b = append(b, ':')
		two(d.Minute)
		b = append(b, ':')
		two(d.Second)
		if d.Frac != "" {
			b = append(b, '.')
			b = append(b, d.Frac...)
		}
	}
	switch k {
	case GYear:
		year()
	case GYearMonth:
		year()
		b = append(b, '-')
		two(d.Month)
	case Date:
		year()
		b = append(b, '-')
		two(d.Month)
		b = append(b, '-')
		two(d.Day)
	case DateTimeFull:
		year()
		b = append(b, '-')
		two(d.Month)
		b = append(b, '-')
		two(d.Day)
		b = append(b, 'T')
		tm()
	case Time:
		tm()
	case GMonth:
		b = append(b, '-', '-')
		two(d.Month)
	case GMonthDay:
		b = append(b, '-', '-')
		two(d.Month)
		b = append(b, '-')
		two(d.Day)
	case GDay:
		b = append(b, '-', '-', '-')
		two(d.Day)
	}
	if d.HasTZ {
		if d.TZMinutes == 0 {
			b = append(b, 'Z')
		} else {
			m := d.TZMinutes
			if m < 0 {
				b = append(b, '-')
				m = -m
			} else {
				b = append(b, '+')
			}
			two(m / 60)
			b = append(b, ':')
			two(m % 60)
		}
	}
	return string(b)
}
