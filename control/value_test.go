package control

import (
	"errors"
	"math"
	"testing"
	"time"
)

func TestParseAndFormat(t *testing.T) {
	tests := []struct {
		typ      Type
		in, want string
	}{
		{TypeBoolean, "true", "true"},
		{TypeBoolean, "0", "false"},
		{TypeColor, "3399ff", "3399FF"},
		{TypeColor, "3399FF80", "3399FF80"},
		{TypeDate, "2013-05-01", "2013-05-01"},
		{TypeDateTime, "2013-04-02T08:00:00", "2013-04-02T08:00:00Z"},
		{TypeDateTime, "2013-04-02T08:00:00+02:00", "2013-04-02T08:00:00+02:00"},
		{TypeDouble, "8.192", "8.192"},
		{TypeDouble, "-INF", "-INF"},
		{TypeDouble, "1e3", "1000"},
		{TypeDuration, "PT3M30S", "PT3M30S"},
		{TypeInt, "50000", "50000"},
		{TypeLong, "500000000000000", "500000000000000"},
		{TypeString, "Temperature: 21.4 °C", "Temperature: 21.4 °C"},
		{TypeTime, "08:00:00", "08:00:00"},
	}
	for _, tt := range tests {
		v, err := Parse(tt.typ, tt.in)
		if err != nil {
			t.Errorf("Parse(%s, %q): %v", tt.typ, tt.in, err)
			continue
		}
		if v.Type() != tt.typ || v.String() != tt.want {
			t.Errorf("Parse(%s, %q) = %s %q, want %q", tt.typ, tt.in, v.Type(), v, tt.want)
		}
		back, err := Parse(tt.typ, v.String())
		if err != nil || !back.Equal(v) {
			t.Errorf("round trip of %s %q: %v, %v", tt.typ, v, back, err)
		}
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		typ Type
		in  string
	}{
		{TypeBoolean, "yes"},
		{TypeColor, "12345"},
		{TypeColor, "GG0000"},
		{TypeDate, "2013-13-01"},
		{TypeDateTime, "yesterday"},
		{TypeDouble, "0x10"},
		{TypeDouble, "1,5"},
		{TypeDuration, "3 minutes"},
		{TypeInt, "2147483648"},
		{TypeLong, "1.5"},
		{TypeTime, "25:00:00"},
		{TypeNone, "x"},
	}
	for _, tt := range tests {
		if v, err := Parse(tt.typ, tt.in); err == nil {
			t.Errorf("Parse(%s, %q) = %v, want an error", tt.typ, tt.in, v)
		}
	}
}

func TestTypeNames(t *testing.T) {
	for _, typ := range Types {
		got, err := ParseType(typ.String())
		if err != nil || got != typ {
			t.Errorf("ParseType(%q) = %v, %v", typ, got, err)
		}
	}
	if _, err := ParseType("enum"); err == nil {
		t.Error("ParseType(enum) succeeded; XEP-0325 has no enum parameters")
	}
}

func must(t *testing.T, typ Type, s string) Value {
	t.Helper()
	v, err := Parse(typ, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestParamCheck(t *testing.T) {
	pct := Param{Name: "Duty", Type: TypeDouble, Min: Double(0), Max: Double(100)}
	mode := Param{Name: "Mode", Type: TypeString, Options: []Value{String("auto"), String("manual")}}
	row := Param{Name: "Row1", Type: TypeString, Max: Int(16)}
	alarm := Param{Name: "Alarm", Type: TypeTime, Min: must(t, TypeTime, "06:00:00"), Max: must(t, TypeTime, "22:00:00")}
	day := Param{Name: "Start", Type: TypeDate, Min: must(t, TypeDate, "2020-01-01")}
	fade := Param{Name: "Fade", Type: TypeDuration, Max: Duration(time.Minute)}
	tests := []struct {
		p    Param
		v    Value
		want error
	}{
		{pct, Double(50), nil},
		{pct, Double(100), nil},
		{pct, Double(100.5), ErrOutOfRange},
		{pct, Double(-1), ErrOutOfRange},
		{pct, Double(math.NaN()), ErrOutOfRange},
		{pct, Int(50), ErrWrongType},
		{mode, String("auto"), nil},
		{mode, String("off"), ErrNotAllowed},
		{row, String("Temperature: 21.4 °C"), ErrOutOfRange},
		{row, String("21.4 °C"), nil},
		{alarm, must(t, TypeTime, "08:00:00"), nil},
		{alarm, must(t, TypeTime, "23:00:00"), ErrOutOfRange},
		{day, must(t, TypeDate, "2019-12-31"), ErrOutOfRange},
		{fade, Duration(2 * time.Minute), ErrOutOfRange},
		{fade, Duration(30 * time.Second), nil},
	}
	for _, tt := range tests {
		err := tt.p.Check(tt.v)
		if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("%s.Check(%s %s) = %v, want %v", tt.p.Name, tt.v.Type(), tt.v, err, tt.want)
		}
	}
}

func TestParamValidate(t *testing.T) {
	bad := []Param{
		{Type: TypeInt},
		{Name: "x"},
		{Name: "x", Type: TypeInt, Min: Double(1)},
		{Name: "x", Type: TypeInt, Min: Int(5), Max: Int(1)},
		{Name: "x", Type: TypeBoolean, Min: Bool(false)},
		{Name: "x", Type: TypeString, Options: []Value{Int(1)}},
	}
	for _, p := range bad {
		if err := p.Validate(); err == nil {
			t.Errorf("%+v validated", p)
		}
	}
	if err := (Param{Name: "x", Type: TypeString, Max: Int(3)}).Validate(); err != nil {
		t.Errorf("string length bound: %v", err)
	}
}
