package registry

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestClaimURIClosesTrailingSpace(t *testing.T) {
	if got := ClaimURI([]Tag{{Name: "KEY", Value: "k "}}); got != "IoTDisco;KEY:k ;" {
		t.Errorf("ClaimURI = %q", got)
	}
	if got := ClaimURI([]Tag{{Name: "KEY", Value: "k"}}); got != "IoTDisco;KEY:k" {
		t.Errorf("ClaimURI = %q, want no closing ';' (as XEP-0347 writes it)", got)
	}
}

func TestParseClaimURI(t *testing.T) {
	xep := []Tag{{Name: "KEY", Value: "4857402340298342"}, {Name: "MAN", Value: "www.ktc.se"}, {Name: "MODEL", Value: "IMC"},
		{Name: "SN", Value: "394872348732948723"}, {Name: "V", Num: 1.2, Numeric: true}}
	tests := []struct {
		name, in string
		want     []Tag
	}{
		{"XEP-0347 example", "IoTDisco;SN:394872348732948723;MAN:www.ktc.se;MODEL:IMC;#V:1.2;KEY:4857402340298342", xep},
		{"URI form, trailing semicolon", "iotdisco:;SN:394872348732948723;MAN:www.ktc.se;MODEL:IMC;#V:1.2;KEY:4857402340298342;\n", xep},
		{"escapes", `IoTDisco;A:x\;y\\z;KEY:k`, []Tag{{Name: "A", Value: `x;y\z`}, {Name: "KEY", Value: "k"}}},
		{"empty value", "IoTDisco;A:", []Tag{{Name: "A"}}},
		{"last value ending in a space", "IoTDisco;KEY:k ;", []Tag{{Name: "KEY", Value: "k "}}}, // found by FuzzParseClaimURI
		{"no prefix", "SN:1;KEY:2", nil},
		{"no tags", "IoTDisco", nil},
		{"no colon", "IoTDisco;SN", nil},
		{"bad number", "IoTDisco;#V:x", nil},
		{"bad name", "IoTDisco;A B:1", nil},
		{"twice", "IoTDisco;A:1;a:2", nil},
		{"too many", "IoTDisco" + strings.Repeat(";A:1", 65), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseClaimURI(tt.in)
			if tt.want == nil {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("got %v, %v; want ErrMalformed", got, err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v, %v\nwant %#v", got, err, tt.want)
			}
			back, err := ParseClaimURI(ClaimURI(got))
			if err != nil || !reflect.DeepEqual(back, got) {
				t.Fatalf("round trip of %q: %#v, %v", ClaimURI(got), back, err)
			}
		})
	}
}

func FuzzParseClaimURI(f *testing.F) {
	f.Add("IoTDisco;SN:394872348732948723;MAN:www.ktc.se;MODEL:IMC;#V:1.2;KEY:4857402340298342")
	f.Add(`iotdisco:;A:x\;y\\z;#B:-1e3`)
	f.Fuzz(func(t *testing.T, s string) {
		tags, err := ParseClaimURI(s)
		if err != nil {
			return
		}
		back, err := ParseClaimURI(ClaimURI(tags))
		if err != nil || !reflect.DeepEqual(back, tags) {
			t.Fatalf("round trip of %q: %#v, %v; want %#v", ClaimURI(tags), back, err, tags)
		}
	})
}

func TestOperatorElementRoundTrip(t *testing.T) {
	ops := []Operator{
		{Op: "strEq", Name: "A", Value: ""},
		{Op: "numLtEq", Name: "B", Num: -2.5},
		{Op: "strNRange", Name: "C", Min: "a", Max: "b", MaxIncluded: true},
		{Op: "numRange", Name: "D", MinNum: 1, MaxNum: 2, MinIncluded: true},
		{Op: "strMask", Name: "E", Value: "x%", Wildcard: "%"},
	}
	for _, op := range ops {
		got, err := parseOperator(OperatorElement(op))
		if err != nil || !reflect.DeepEqual(got, op) {
			t.Errorf("%s: got %+v, %v", op.Op, got, err)
		}
	}
	// Never panics on a bad operator name.
	_ = OperatorElement(Operator{Op: "x"})
}
