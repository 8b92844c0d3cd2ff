package sensors

import (
	"errors"
	"testing"
	"time"
)

func TestFieldValidate(t *testing.T) {
	ts := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	good := Field{Name: "Temperature", Value: Numeric(21.5), Unit: "°C", Decimals: 2, Timestamp: ts, Types: Momentary}
	tests := []struct {
		name string
		edit func(*Field)
		want error
	}{
		{"good", func(*Field) {}, nil},
		{"no name", func(f *Field) { f.Name = "" }, ErrNoName},
		{"no value", func(f *Field) { f.Value = Value{} }, ErrNoValue},
		{"no types", func(f *Field) { f.Types = 0 }, ErrNoTypes},
		{"decimals", func(f *Field) { f.Decimals = -1 }, ErrDecimals},
		{"decimals big", func(f *Field) { f.Decimals = 16 }, ErrDecimals},
		{"no timestamp", func(f *Field) { f.Timestamp = time.Time{} }, ErrNoTime},
		{"unit on boolean", func(f *Field) { f.Value = Boolean(true) }, ErrUnitKind},
		{"enum without type", func(f *Field) { f.Unit = ""; f.Value = Enum("x", "") }, ErrEnumNoTyp},
		{"enum with type", func(f *Field) { f.Unit = ""; f.Value = Enum("x", "T") }, nil},
	}
	for _, tt := range tests {
		f := good
		tt.edit(&f)
		err := f.Validate()
		if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("%s: Validate() = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestFieldText(t *testing.T) {
	ts := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	spec := FieldSpec{Name: "Pressure", Kind: KindNumeric, Unit: "hPa", Decimals: 2, Types: Momentary}
	f := spec.Field("bme280", Numeric(1013.2), ts, QoSAutomaticReadout)
	if got := f.Text(); got != "1013.20" {
		t.Errorf("Text() = %q", got)
	}
	if got, want := f.String(), "bme280/Pressure = 1013.20 hPa [momentary; automaticReadout]"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if err := f.Validate(); err != nil {
		t.Error(err)
	}
}

func TestFilter(t *testing.T) {
	mk := func(name string, types ReadoutType) Field { return Field{Name: name, Types: types} }
	tests := []struct {
		req  ReadoutType
		want string
	}{
		{0, "abcd"},
		{Momentary, "ab"},
		{Status, "bcd"},
		{Historical, "d"},
		{HistoricalDay, "d"},
		{Peak, ""},
		{Momentary | HistoricalHour, "ab"},
		{Momentary | HistoricalDay, "abd"},
	}
	for _, tt := range tests {
		fields := []Field{mk("a", Momentary), mk("b", Momentary|Status), mk("c", Status), mk("d", HistoricalDay|Status)}
		got := ""
		for _, f := range Filter(fields, tt.req) {
			got += f.Name
		}
		if got != tt.want {
			t.Errorf("Filter(%v) = %q, want %q", tt.req, got, tt.want)
		}
	}
}
