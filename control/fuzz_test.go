package control

import (
	"os"
	"path/filepath"
	"testing"

	"periph.io/x/conn/v3/gpio/gpiotest"
)

// FuzzParse checks that every value Parse accepts formats to text that
// parses back to an equal value, for every type.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"true", "0", "3399FF", "3399ff80", "2013-05-01", "2013-04-02T08:00:00+02:00",
		"8.192", "-INF", "NaN", "PT3M30S", "-P1DT2H", "2147483647", "-9223372036854775808", "08:00:00.5", "°C"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, typ := range Types {
			v, err := Parse(typ, s)
			if err != nil {
				continue
			}
			back, err := Parse(typ, v.String())
			if err != nil {
				t.Fatalf("%s %q formats as %q, which does not parse: %v", typ, s, v, err)
			}
			if !back.Equal(v) {
				t.Fatalf("%s %q: %q parses back as %q", typ, s, v, back)
			}
		}
	})
}

// FuzzOverridesFile feeds arbitrary overrides files to a booting
// Controller: it must refuse or ignore what it cannot use, never panic,
// and never apply a value outside the parameter's bounds.
func FuzzOverridesFile(f *testing.F) {
	f.Add([]byte(`{"version":1,"overrides":[{"name":"Heater","type":"boolean","value":"true","revert":"false","until":"2099-01-01T00:00:00Z"}]}`))
	f.Add([]byte(`{"version":1,"overrides":[{"name":"Level","type":"int","value":"7","revert":"99","until":"2099-01-01T00:00:00Z"}]}`))
	f.Add([]byte(`{"overrides":[{"node":"x","name":"Heater"}]}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, OverridesFile), data, 0o600); err != nil {
			t.Fatal(err)
		}
		level := NewVirtual("Level", TypeInt, nil)
		r, _ := NewRelay(&gpiotest.Pin{N: "R"}, false)
		c, err := New([]Point{
			{Param: Param{Name: "Heater", Type: TypeBoolean}, Output: r, Safety: Safety{Failsafe: Bool(false)}},
			{Param: Param{Name: "Level", Type: TypeInt, Min: Int(0), Max: Int(10)}, Output: level, Initial: Int(0)},
		}, Options{StateDir: dir})
		if err != nil {
			return
		}
		defer c.Shutdown()
		v, _ := c.Get("", "Level")
		if n, _ := v.AsFloat(); n < 0 || n > 10 {
			t.Fatalf("restored Level %v outside 0..10", v)
		}
		c.Tick()
	})
}
