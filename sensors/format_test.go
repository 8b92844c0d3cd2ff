package sensors

import (
	"math"
	"testing"
	"time"
)

func TestFormat(t *testing.T) {
	ts := time.Date(2026, 11, 24, 10, 5, 7, 250_000_000, time.UTC)
	cet := time.FixedZone("CET", 3600)
	tests := []struct {
		name     string
		v        Value
		decimals int
		want     string
	}{
		{"numeric 2 decimals pads", Numeric(21.5), 2, "21.50"},
		{"numeric rounds", Numeric(1013.256), 1, "1013.3"},
		{"numeric 0 decimals", Numeric(9.5), 0, "10"},
		{"numeric negative decimals", Numeric(12.7), -3, "13"},
		{"numeric negative", Numeric(-3.14159), 3, "-3.142"},
		{"numeric no negative zero", Numeric(-0.001), 2, "0.00"},
		{"numeric NaN", Numeric(math.NaN()), 2, "NaN"},
		{"numeric +Inf", Numeric(math.Inf(1)), 2, "INF"},
		{"numeric -Inf", Numeric(math.Inf(-1)), 2, "-INF"},
		{"boolean", Boolean(true), 0, "true"},
		{"int", Int(-2147483648), 3, "-2147483648"},
		{"long", Long(9007199254740993), 0, "9007199254740993"},
		{"string", String("a b"), 2, "a b"},
		{"enum", Enum("Open", "DoorState"), 0, "Open"},
		{"date", Date(ts), 0, "2026-11-24"},
		{"dateTime UTC", DateTime(ts), 0, "2026-11-24T10:05:07.25Z"},
		{"dateTime zone", DateTime(ts.In(cet).Truncate(time.Second)), 0, "2026-11-24T11:05:07+01:00"},
		{"time", TimeOfDay(ts), 0, "10:05:07.25"},
		{"duration zero", Duration(0), 0, "PT0S"},
		{"duration seconds", Duration(90 * time.Second), 0, "PT1M30S"},
		{"duration days", Duration(49*time.Hour + 1500*time.Millisecond), 0, "P2DT1H1.5S"},
		{"duration whole days", Duration(48 * time.Hour), 0, "P2D"},
		{"duration negative", Duration(-time.Millisecond), 0, "-PT0.001S"},
		{"duration min", Duration(math.MinInt64), 0, "-P106751DT23H47M16.854775808S"},
		{"none", Value{}, 0, ""},
	}
	for _, tt := range tests {
		if got := tt.v.Format(tt.decimals); got != tt.want {
			t.Errorf("%s: Format = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestParseValue(t *testing.T) {
	tests := []struct {
		kind     Kind
		in       string
		want     Value
		decimals int
		wantErr  bool
	}{
		{KindNumeric, "21.50", Numeric(21.5), 2, false},
		{KindNumeric, "-7", Numeric(-7), 0, false},
		{KindNumeric, "1.25E2", Numeric(125), 0, false},
		{KindNumeric, "1.2345e2", Numeric(123.45), 2, false},
		{KindNumeric, "NaN", Numeric(math.NaN()), 0, false},
		{KindNumeric, "-INF", Numeric(math.Inf(-1)), 0, false},
		{KindNumeric, "0x10", Value{}, 0, true},
		{KindNumeric, "Inf", Value{}, 0, true},
		{KindNumeric, "", Value{}, 0, true},
		{KindBoolean, "true", Boolean(true), 0, false},
		{KindBoolean, "0", Boolean(false), 0, false},
		{KindBoolean, "yes", Value{}, 0, true},
		{KindInt, "-42", Int(-42), 0, false},
		{KindInt, "2147483648", Value{}, 0, true},
		{KindLong, "2147483648", Long(2147483648), 0, false},
		{KindString, " x ", String(" x "), 0, false},
		{KindEnum, "On", Enum("On", ""), 0, false},
		{KindDate, "2026-11-24", Date(time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)), 0, false},
		{KindDate, "2026-11-24Z", Date(time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)), 0, false},
		{KindDateTime, "2026-11-24T11:05:07+01:00", DateTime(time.Date(2026, 11, 24, 10, 5, 7, 0, time.UTC)), 0, false},
		{KindDateTime, "2026-11-24T10:05:07.5", DateTime(time.Date(2026, 11, 24, 10, 5, 7, 5e8, time.UTC)), 0, false},
		{KindDateTime, "2026-11-24", Value{}, 0, true},
		{KindDate, "2026-11-24+05:00", Date(time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)), 0, false},
		{KindTime, "10:05:07+01:00", TimeOfDay(time.Date(0, 1, 1, 10, 5, 7, 0, time.UTC)), 0, false},
		{KindTime, "10:05:07", TimeOfDay(time.Date(0, 1, 1, 10, 5, 7, 0, time.UTC)), 0, false},
		{KindDuration, "P2DT1H1.5S", Duration(49*time.Hour + 1500*time.Millisecond), 0, false},
		{KindDuration, "-PT0.001S", Duration(-time.Millisecond), 0, false},
		{KindDuration, "P0Y0M3D", Duration(72 * time.Hour), 0, false},
		{KindDuration, "P1M", Value{}, 0, true},
		{KindDuration, "PT", Value{}, 0, true},
		{KindDuration, "P", Value{}, 0, true},
		{KindDuration, "1D", Value{}, 0, true},
		{KindDuration, "PT1D", Value{}, 0, true},
		{KindDuration, "PT-1S", Value{}, 0, true},
		{KindNone, "1", Value{}, 0, true},
	}
	for _, tt := range tests {
		got, dec, err := ParseValue(tt.kind, tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseValue(%s, %q) error = %v, wantErr %v", tt.kind, tt.in, err, tt.wantErr)
			continue
		}
		if tt.wantErr {
			continue
		}
		if !got.Equal(tt.want) || dec != tt.decimals {
			t.Errorf("ParseValue(%s, %q) = %v/%d, want %v/%d", tt.kind, tt.in, got.Format(dec), dec, tt.want.Format(tt.decimals), tt.decimals)
		}
	}
}

// TestFormatParseRoundTrip checks that what Format writes ParseValue reads
// back to an equal value with the same decimals.
func TestFormatParseRoundTrip(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)
	values := []struct {
		v   Value
		dec int
	}{
		{Numeric(1013.25), 2}, {Numeric(-0.5), 1}, {Numeric(3), 0}, {Boolean(false), 0},
		{Int(7), 0}, {Long(-1 << 40), 0}, {String("é"), 0}, {DateTime(ts), 0},
		{Duration(36*time.Hour + 5*time.Minute + 600), 0}, {Duration(-3 * time.Second), 0},
	}
	for _, tt := range values {
		text := tt.v.Format(tt.dec)
		back, dec, err := ParseValue(tt.v.Kind(), text)
		if err != nil || !back.Equal(tt.v) || dec != tt.dec {
			t.Errorf("%s %q: got %q/%d, %v", tt.v.Kind(), text, back.Format(dec), dec, err)
		}
	}
}

func TestKind(t *testing.T) {
	for k := KindBoolean; k <= KindTime; k++ {
		got, err := ParseKind(k.String())
		if err != nil || got != k {
			t.Errorf("ParseKind(%q) = %v, %v", k.String(), got, err)
		}
	}
	for _, s := range []string{"", "none", "double", "Numeric"} {
		if _, err := ParseKind(s); err == nil {
			t.Errorf("ParseKind(%q) succeeded", s)
		}
	}
	if s := Kind(200).String(); s != "none" {
		t.Errorf("Kind(200) = %q", s)
	}
}

func TestValueAccessors(t *testing.T) {
	if f, ok := Numeric(2.5).Float(); !ok || f != 2.5 {
		t.Errorf("Numeric.Float = %v, %v", f, ok)
	}
	if f, ok := Int(3).Float(); !ok || f != 3 {
		t.Errorf("Int.Float = %v, %v", f, ok)
	}
	if _, ok := Boolean(true).Float(); ok {
		t.Error("Boolean.Float ok")
	}
	if i, ok := Long(-9).Integer(); !ok || i != -9 {
		t.Errorf("Long.Integer = %v, %v", i, ok)
	}
	if _, ok := Numeric(1).Integer(); ok {
		t.Error("Numeric.Integer ok")
	}
	if b, ok := Boolean(true).Bool(); !ok || !b {
		t.Errorf("Bool = %v, %v", b, ok)
	}
	if s, ok := Enum("On", "Switch").Text(); !ok || s != "On" || Enum("On", "Switch").DataType() != "Switch" {
		t.Errorf("Enum.Text = %v, %v", s, ok)
	}
	if _, ok := Duration(time.Second).Time(); ok {
		t.Error("Duration.Time ok")
	}
	if d, ok := Duration(time.Second).Duration(); !ok || d != time.Second {
		t.Errorf("Duration = %v, %v", d, ok)
	}
	if Numeric(1).Equal(Long(1)) {
		t.Error("values of different kinds are equal")
	}
}
