//go:build !xiot_small

package main

import (
	"reflect"
	"testing"

	"github.com/xiot/xiot/provisioning/registry"
)

func TestParseTerm(t *testing.T) {
	tests := []struct {
		in   string
		want registry.Operator
		bad  bool
	}{
		{in: "model=xiot", want: registry.Operator{Op: "strEq", Name: "MODEL", Value: "xiot"}},
		{in: "V>=1.2", want: registry.Operator{Op: "numGtEq", Name: "V", Num: 1.2}},
		{in: "V<=2", want: registry.Operator{Op: "numLtEq", Name: "V", Num: 2}},
		{in: "V>2", want: registry.Operator{Op: "numGt", Name: "V", Num: 2}},
		{in: "V<-2", want: registry.Operator{Op: "numLt", Name: "V", Num: -2}},
		{in: "MAN!=acme", want: registry.Operator{Op: "strNEq", Name: "MAN", Value: "acme"}},
		{in: `SN="0123"`, want: registry.Operator{Op: "strEq", Name: "SN", Value: "0123"}},
		{in: "SN~3948*", want: registry.Operator{Op: "strMask", Name: "SN", Value: "3948*", Wildcard: "*"}},
		{in: "ROOM=", want: registry.Operator{Op: "strEq", Name: "ROOM"}},
		{in: "=x", bad: true},
		{in: "MODEL", bad: true},
		{in: "A!x", bad: true},
	}
	for _, tt := range tests {
		got, err := parseTerm(tt.in)
		if tt.bad {
			if err == nil {
				t.Errorf("%q: got %+v, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: got %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}
