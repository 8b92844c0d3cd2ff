package payload

import (
	"errors"
	"testing"

	"github.com/xiot/xiot/sensors"
)

func TestParsePath(t *testing.T) {
	good := map[string]int{"": 0, "a": 1, "a.b[0].c": 4, "[2]": 1, "[0][1]": 2, `a["x.y"].b`: 3, "ENERGY.Total": 2}
	for in, n := range good {
		p, err := ParsePath(in)
		if err != nil {
			t.Errorf("ParsePath(%q): %v", in, err)
			continue
		}
		if len(p.steps) != n || p.String() != in {
			t.Errorf("ParsePath(%q) = %d steps %q, want %d", in, len(p.steps), p, n)
		}
	}
	for _, in := range []string{".a", "a.", "a..b", "a[", "a[x]", "a[-1]", "a]b", `a["b`, "a[0]b"} {
		if _, err := ParsePath(in); err == nil {
			t.Errorf("ParsePath(%q) accepted a bad path", in)
		}
	}
}

func TestJSON(t *testing.T) {
	const tasmota = `{"Time":"2026-12-01T10:00:00","ENERGY":{"Total":12.345,"Power":[40,0]},"DS18B20":{"Temperature":"21.5 °C"},"POWER":"ON","ok":true,"n":null}`
	tests := []struct {
		doc, path string
		kind      sensors.Kind
		want      sensors.Value
		unit      string
		decimals  int
		err       error
	}{
		{doc: tasmota, path: "ENERGY.Total", want: sensors.Numeric(12.345), decimals: 3},
		{doc: tasmota, path: "ENERGY.Power[0]", want: sensors.Numeric(40)},
		{doc: tasmota, path: "ENERGY.Power[1]", kind: sensors.KindInt, want: sensors.Int(0)},
		{doc: tasmota, path: "DS18B20.Temperature", want: sensors.Numeric(21.5), unit: "°C", decimals: 1},
		{doc: tasmota, path: "POWER", want: sensors.Boolean(true)},
		{doc: tasmota, path: "POWER", kind: sensors.KindString, want: sensors.String("ON")},
		{doc: tasmota, path: "ok", want: sensors.Boolean(true)},
		{doc: tasmota, path: "n", err: ErrType},
		{doc: tasmota, path: "ENERGY", err: ErrType},
		{doc: tasmota, path: "ENERGY.Power[2]", err: ErrNotFound},
		{doc: tasmota, path: "ENERGY[0]", err: ErrNotFound},
		{doc: tasmota, path: "missing", err: ErrNotFound},
		{doc: tasmota, path: "POWER.x", err: ErrNotFound},
		{doc: tasmota, path: "ok", kind: sensors.KindNumeric, err: ErrType},
		{doc: `21.5`, want: sensors.Numeric(21.5), decimals: 1},
		{doc: `[1,2,{"a":"x"}]`, path: "[2].a", want: sensors.String("x")},
		{doc: `{"a.b":7}`, path: `["a.b"]`, want: sensors.Numeric(7)},
		{doc: `{"a":1`, err: ErrSyntax},
		{doc: `{"a":1} {}`, err: ErrSyntax},
		{doc: ``, err: ErrSyntax},
		{doc: `{"v":1e999}`, path: "v", err: ErrType},
	}
	for _, tt := range tests {
		t.Run(tt.doc+"/"+tt.path, func(t *testing.T) {
			p, err := ParsePath(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			f, err := JSON([]byte(tt.doc), p, tt.kind, 0)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("error = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !f.Value.Equal(tt.want) || f.Unit != tt.unit || f.Decimals != tt.decimals {
				t.Errorf("got %v %q dec %d, want %v %q dec %d", f.Value.Format(-1), f.Unit, f.Decimals, tt.want.Format(-1), tt.unit, tt.decimals)
			}
		})
	}
}
