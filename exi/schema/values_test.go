package schema

import (
	"errors"
	"testing"
)

func TestParseFloat(t *testing.T) {
	tests := []struct {
		in   string
		m, e int64
		str  string
	}{
		{"23.4", 234, -1, "234E-1"},
		{"1013.25", 101325, -2, "101325E-2"},
		{"6.02214076E23", 602214076, 15, "602214076E15"},
		{"-1", -1, 0, "-1E0"},
		{"1e-3", 1, -3, "1E-3"},
		{"INF", 1, FloatSpecialExponent, "INF"},
		{"-INF", -1, FloatSpecialExponent, "-INF"},
		{"NaN", 0, FloatSpecialExponent, "NaN"},
	}
	for _, tt := range tests {
		f, err := ParseFloat(tt.in)
		if err != nil || f.Mantissa != tt.m || f.Exponent != tt.e || f.String() != tt.str {
			t.Errorf("ParseFloat(%q) = %+v %q, %v; want %d %d %q", tt.in, f, f.String(), err, tt.m, tt.e, tt.str)
		}
	}
	for _, bad := range []string{"", "abc", "1.2.3", "99999999999999999999", "1e99999"} {
		if _, err := ParseFloat(bad); !errors.Is(err, ErrLexical) {
			t.Errorf("ParseFloat(%q) err = %v, want ErrLexical", bad, err)
		}
	}
}

func TestParseDecimal(t *testing.T) {
	tests := []struct{ in, out string }{
		{"1.5", "1.5"}, {"-0.0500", "-0.05"}, {"+12", "12.0"}, {".25", "0.25"}, {"-0", "0.0"},
		{"123456789012345678901234567890.1", "123456789012345678901234567890.1"},
	}
	for _, tt := range tests {
		d, err := ParseDecimal(tt.in)
		if err != nil || d.String() != tt.out {
			t.Errorf("ParseDecimal(%q) = %q, %v; want %q", tt.in, d.String(), err, tt.out)
		}
	}
	if _, err := ParseDecimal("1e3"); err == nil {
		t.Error("ParseDecimal(1e3) accepted")
	}
}

func TestParseDateTime(t *testing.T) {
	tests := []struct {
		k  DateTimeKind
		in string
	}{
		{DateTimeFull, "2024-02-29T13:45:07.125Z"},
		{DateTimeFull, "2001-10-26T21:32:52+02:00"},
		{Date, "-0044-03-15"},
		{Time, "23:59:60-05:30"},
		{GYear, "2025"}, {GYearMonth, "2025-07"}, {GMonth, "--12"}, {GMonthDay, "--02-29"}, {GDay, "---31Z"},
	}
	for _, tt := range tests {
		d, err := ParseDateTime(tt.k, tt.in)
		if err != nil {
			t.Errorf("ParseDateTime(%v, %q): %v", tt.k, tt.in, err)
			continue
		}
		if got := FormatDateTime(tt.k, d); got != tt.in {
			t.Errorf("round trip %v %q = %q", tt.k, tt.in, got)
		}
	}
	d, _ := ParseDateTime(DateTimeFull, "2024-02-29T13:45:07.125+01:00")
	if d.MonthDay() != 2*32+29 || d.TimeValue() != (13*64+45)*64+7 || d.TZValue() != 64+896 {
		t.Errorf("components: %+v", d)
	}
	if v, ok, err := d.FracReversed(); !ok || err != nil || v != 521 {
		t.Errorf("FracReversed = %d %v %v", v, ok, err)
	}
	for _, bad := range []string{"2024-13-01", "2024-02-29T25:00:00", "24-01-01", "2024-01-01T00:00"} {
		k := Date
		if len(bad) > 10 {
			k = DateTimeFull
		}
		if _, err := ParseDateTime(k, bad); err == nil {
			t.Errorf("ParseDateTime(%q) accepted", bad)
		}
	}
}

func TestBooleanBinaryQName(t *testing.T) {
	for in, want := range map[string]bool{"true": true, " 1 ": true, "false": false, "0": false} {
		if got, err := ParseBoolean(in); err != nil || got != want {
			t.Errorf("ParseBoolean(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseBoolean("yes"); err == nil {
		t.Error("ParseBoolean(yes) accepted")
	}
	for i, s := range []string{"false", "0", "true", "1"} {
		if got, _ := BooleanPatternIndex(s); got != i || FormatBooleanPattern(i) != s {
			t.Errorf("boolean pattern %q: %d", s, got)
		}
	}
	b, err := ParseBinary(RepBinaryHex, "0fA1")
	if err != nil || FormatBinary(RepBinaryHex, b) != "0FA1" {
		t.Errorf("hex: %x %v", b, err)
	}
	b, err = ParseBinary(RepBinaryBase64, "aGVs\nbG8=")
	if err != nil || string(b) != "hello" {
		t.Errorf("base64: %q %v", b, err)
	}
	if p, l, err := ParseQName(" xs:int "); err != nil || p != "xs" || l != "int" {
		t.Errorf("ParseQName: %q %q %v", p, l, err)
	}
	if _, _, err := ParseQName("a:b:c"); err == nil {
		t.Error("ParseQName(a:b:c) accepted")
	}
}

func TestRestrictedCharSet(t *testing.T) {
	tests := []struct {
		steps [][]string
		want  string // "" means unrestricted (nil)
	}{
		{[][]string{{"[0-9a-fA-F]{6}"}}, "0123456789ABCDEFabcdef"},
		{[][]string{{"[a-c]+", "x|y"}}, "abcxy"},
		{[][]string{{"[a-z]+"}, {"[x-z0]*"}}, "xyz"},
		{[][]string{{".*"}}, ""},
		{[][]string{{"\\d+"}}, ""},
		{[][]string{{"[^a]"}}, ""},
		{[][]string{{"[a-z-[aeiou]]"}}, "bcdfghjklmnpqrstvwxyz"},
		{[][]string{{"\\+\\-[\\.,]"}}, "+,-."},
	}
	for _, tt := range tests {
		got := string(restrictedCharSet(tt.steps))
		if got != tt.want {
			t.Errorf("restrictedCharSet(%q) = %q, want %q", tt.steps, got, tt.want)
		}
	}
}
