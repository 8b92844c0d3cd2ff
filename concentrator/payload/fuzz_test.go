package payload

import (
	"errors"
	"testing"
	"time"

	"github.com/xiot/xiot/sensors"
)

// checkDecoded fails unless err wraps one of the package's errors, or the
// fields are well-formed.
func checkDecoded(t *testing.T, fields []sensors.Field, err error) {
	t.Helper()
	if err != nil {
		if !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrType) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrNotFound) {
			t.Fatalf("error wraps none of the package errors: %v", err)
		}
		return
	}
	for _, f := range fields {
		if f.Value.Kind() == sensors.KindNone {
			t.Fatalf("decoded a field without value: %+v", f)
		}
		if f.Decimals < 0 || f.Decimals > 15 {
			t.Fatalf("decimals %d out of range", f.Decimals)
		}
		if f.Unit != "" && f.Value.Kind() != sensors.KindNumeric {
			t.Fatalf("unit %q on a %v value", f.Unit, f.Value.Kind())
		}
	}
}

func FuzzPlain(f *testing.F) {
	for _, s := range []string{"23.4", "23.4 °C", "ON", "off", "text", "-1e3", "5EUR", "1e", "", "\xff"} {
		f.Add([]byte(s), uint8(0))
	}
	f.Add([]byte("42"), uint8(sensors.KindInt))
	f.Add([]byte("PT1M"), uint8(sensors.KindDuration))
	f.Fuzz(func(t *testing.T, p []byte, kind uint8) {
		v, err := Plain(p, sensors.Kind(kind%uint8(sensors.KindTime+1)), 1024)
		checkDecoded(t, []sensors.Field{v}, err)
	})
}

func FuzzJSON(f *testing.F) {
	f.Add([]byte(`{"a":{"b":[{"c":21.5}]}}`), "a.b[0].c")
	f.Add([]byte(`{"POWER":"ON"}`), "POWER")
	f.Add([]byte(`[1,2]`), "[1]")
	f.Add([]byte(`{"a.b":"23 °C"}`), `["a.b"]`)
	f.Add([]byte(`{"a":`), "a")
	f.Fuzz(func(t *testing.T, p []byte, path string) {
		pp, err := ParsePath(path)
		if err != nil {
			return
		}
		v, err := JSON(p, pp, sensors.KindNone, 4096)
		checkDecoded(t, []sensors.Field{v}, err)
	})
}

// records returns the fields of resolved records.
func records(rs []Record) []sensors.Field {
	fs := make([]sensors.Field, len(rs))
	for i, r := range rs {
		fs[i] = r.Field
	}
	return fs
}

func FuzzSenMLJSON(f *testing.F) {
	for _, ex := range rfcExamples {
		f.Add([]byte(ex.json))
	}
	f.Add([]byte(`[{"n":"a","vd":"aGk"}]`))
	f.Fuzz(func(t *testing.T, p []byte) {
		rs, err := SenMLJSON(p, time.Unix(1.7e9, 0), 8192)
		checkDecoded(t, records(rs), err)
	})
}

func FuzzSenMLCBOR(f *testing.F) {
	for _, ex := range rfcExamples {
		f.Add(toCBOR(f, ex.json))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		rs, err := SenMLCBOR(p, time.Unix(1.7e9, 0), 8192)
		checkDecoded(t, records(rs), err)
	})
}

func FuzzHomie(f *testing.F) {
	for _, s := range [][3]string{
		{HomieInteger, "", "42"}, {HomieFloat, "", "21.5"}, {HomieBoolean, "", "true"},
		{HomieEnum, "a,b", "a"}, {HomieColor, "rgb", "1,2,3"}, {HomieDatetime, "", "2026-12-01T10:00:00Z"},
		{HomieDuration, "", "PT1H"}, {HomieString, "", "x"},
	} {
		f.Add([]byte(s[2]), s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, p []byte, datatype, format string) {
		v, err := Homie(p, datatype, format, 1024)
		checkDecoded(t, []sensors.Field{v}, err)
	})
}
