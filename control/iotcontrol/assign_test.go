package iotcontrol

import (
	"testing"

	"github.com/xiot/xiot/control"
)

func TestParseAssignment(t *testing.T) {
	tests := []struct {
		in   string
		want Assignment
	}{
		{"Heater=true", Assignment{"Heater", "true", control.TypeNone}},
		{"Level=3:double", Assignment{"Level", "3", control.TypeDouble}},
		{"Alarm=08:00:00", Assignment{"Alarm", "08:00:00", control.TypeNone}},
		{"Alarm=08:00:00:time", Assignment{"Alarm", "08:00:00", control.TypeTime}},
		{"Row1=a=b:c", Assignment{"Row1", "a=b:c", control.TypeNone}},
		{"Row1=", Assignment{"Row1", "", control.TypeNone}},
	}
	for _, tt := range tests {
		got, err := ParseAssignment(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseAssignment(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"Heater", "=true"} {
		if _, err := ParseAssignment(bad); err == nil {
			t.Errorf("ParseAssignment(%q) succeeded", bad)
		}
	}
}

func TestGuessType(t *testing.T) {
	tests := map[string]control.Type{
		"true": control.TypeBoolean, "42": control.TypeInt, "-7": control.TypeInt, "5000000000": control.TypeLong,
		"8.192": control.TypeDouble, "1e3": control.TypeDouble, "PT3M30S": control.TypeDuration,
		"2013-05-01": control.TypeDate, "2013-04-02T08:00:00": control.TypeDateTime, "08:00:00": control.TypeTime,
		"hello": control.TypeString, "NaN": control.TypeString, "0x10": control.TypeString,
	}
	for in, want := range tests {
		if got := GuessType(in); got != want {
			t.Errorf("GuessType(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestTypedParamsUsesForm(t *testing.T) {
	form := &Form{Fields: []Field{
		{Var: "Level", Type: "text-single", Datatype: "xs:double", Min: "0", Max: "10"},
		{Var: "Row1", Type: "text-single", Datatype: "xs:string"},
	}}
	as := []Assignment{{"Level", "3", control.TypeNone}, {"Row1", "42", control.TypeNone}, {"Other", "42", control.TypeNone}}
	ps, err := TypedParams(as, form)
	if err != nil {
		t.Fatal(err)
	}
	want := []control.Type{control.TypeDouble, control.TypeString, control.TypeInt}
	for i, p := range ps {
		if p.Type != want[i] {
			t.Errorf("%s typed %s, want %s", p.Name, p.Type, want[i])
		}
	}
	if _, err := TypedParams([]Assignment{{"Level", "11", control.TypeNone}}, form); err == nil {
		t.Error("out-of-range value passed the form's validation")
	}
	if _, err := TypedParams([]Assignment{{"Level", "x", control.TypeInt}}, nil); err == nil {
		t.Error("x accepted as an int")
	}
}
