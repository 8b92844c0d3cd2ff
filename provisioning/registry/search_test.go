package registry

import (
	"strings"
	"testing"
	"time"
)

func TestMatches(t *testing.T) {
	th := Thing{Tags: []Tag{
		{Name: "KEY", Value: "4857402340298342"},
		{Name: "MAN", Value: "www.ktc.se"},
		{Name: "SN", Value: "394872348732948723"},
		{Name: "V", Num: 1.2, Numeric: true},
	}}
	str := func(op, name, v string) Operator { return Operator{Op: op, Name: name, Value: v} }
	num := func(op, name string, v float64) Operator { return Operator{Op: op, Name: name, Num: v} }
	srange := func(op, min, max string, minIn, maxIn bool) Operator {
		return Operator{Op: op, Name: "MAN", Min: min, Max: max, MinIncluded: minIn, MaxIncluded: maxIn}
	}
	nrange := func(op string, min, max float64, minIn, maxIn bool) Operator {
		return Operator{Op: op, Name: "V", MinNum: min, MaxNum: max, MinIncluded: minIn, MaxIncluded: maxIn}
	}
	mask := func(v, w string) Operator { return Operator{Op: "strMask", Name: "SN", Value: v, Wildcard: w} }
	tests := []struct {
		name string
		op   Operator
		want bool
	}{
		{"strEq", str("strEq", "MAN", "www.ktc.se"), true},
		{"strEq other", str("strEq", "MAN", "x"), false},
		{"strNEq", str("strNEq", "MAN", "x"), true},
		{"strNEq same", str("strNEq", "MAN", "www.ktc.se"), false},
		{"strGt", str("strGt", "MAN", "www"), true},
		{"strGt equal", str("strGt", "MAN", "www.ktc.se"), false},
		{"strGtEq equal", str("strGtEq", "MAN", "www.ktc.se"), true},
		{"strLt", str("strLt", "MAN", "zzz"), true},
		{"strLt less", str("strLt", "MAN", "a"), false},
		{"strLtEq equal", str("strLtEq", "MAN", "www.ktc.se"), true},
		{"strRange inside", srange("strRange", "w", "x", true, true), true},
		{"strRange min excluded at min", srange("strRange", "www.ktc.se", "x", false, true), false},
		{"strRange max included at max", srange("strRange", "a", "www.ktc.se", true, true), true},
		{"strNRange inside", srange("strNRange", "w", "x", true, true), false},
		{"strNRange outside", srange("strNRange", "a", "b", true, true), true},
		{"strNRange at excluded max", srange("strNRange", "a", "www.ktc.se", true, false), true},
		{"strMask prefix", mask("39487*", "*"), true},
		{"strMask infix", mask("3*8723", "*"), true},
		{"strMask many", mask("*94*23*", "*"), true},
		{"strMask no", mask("4*", "*"), false},
		{"strMask literal", mask("394872348732948723", "*"), true},
		{"strMask other wildcard", mask("39%23", "%"), true},
		{"strMask overlapping suffix", mask("3948723487329487*48723", "*"), false},
		{"numEq", num("numEq", "V", 1.2), true},
		{"numNEq", num("numNEq", "V", 1.2), false},
		{"numGt", num("numGt", "V", 1), true},
		{"numGtEq", num("numGtEq", "V", 1.2), true},
		{"numLt", num("numLt", "V", 1.2), false},
		{"numLtEq", num("numLtEq", "V", 1.2), true},
		{"numRange [1,2)", nrange("numRange", 1, 2, true, false), true},
		{"numRange (1.2,2]", nrange("numRange", 1.2, 2, false, true), false},
		{"numNRange", nrange("numNRange", 2, 3, true, true), true},
		{"numNRange inside", nrange("numNRange", 1, 3, true, true), false},
		{"num operator on string tag", num("numEq", "MAN", 0), false},
		{"str operator on number tag", str("strEq", "V", "1.2"), false},
		{"missing tag", str("strNEq", "NOPE", "x"), false},
		{"KEY never found", str("strEq", "KEY", "4857402340298342"), false},
		{"KEY never found by mask", Operator{Op: "strMask", Name: "KEY", Value: "*", Wildcard: "*"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Matches(th, []Operator{tt.op}); got != tt.want {
				t.Fatalf("Matches(%+v) = %v, want %v", tt.op, got, tt.want)
			}
		})
	}
	if Matches(th, nil) {
		t.Error("no operators matched")
	}
	if Matches(th, []Operator{str("strEq", "MAN", "www.ktc.se"), num("numGt", "V", 5)}) {
		t.Error("operators are not ANDed")
	}
}

// A hostile mask cannot make matching slow: it is linear per part.
func TestMaskHostile(t *testing.T) {
	v := strings.Repeat("a", 128)
	m := strings.Repeat("a*", 64) + "b"
	start := time.Now()
	for range 1000 {
		if maskMatch(v, m, "*") {
			t.Fatal("matched")
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("1000 hostile masks took %v", d)
	}
}
