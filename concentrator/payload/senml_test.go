package payload

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/xiot/xiot/sensors"
)

// want is one expected resolved record.
type want struct {
	name string
	v    sensors.Value
	unit string
	t    float64 // Unix seconds; 0: now
}

// The packs of RFC 8428 §5.1 and what §4.6 resolves them to.
var rfcExamples = []struct {
	name string
	json string
	want []want
}{
	{"5.1.1 single datapoint", `[{"n":"urn:dev:ow:10e2073a01080063","u":"Cel","v":23.1}]`,
		[]want{{"urn:dev:ow:10e2073a01080063", sensors.Numeric(23.1), "°C", 0}}},
	{"5.1.2 multiple datapoints", `[
	 {"bn":"urn:dev:ow:10e2073a01080063:","n":"voltage","u":"V","v":120.1},
	 {"n":"current","u":"A","v":1.2}]`,
		[]want{
			{"urn:dev:ow:10e2073a01080063:voltage", sensors.Numeric(120.1), "V", 0},
			{"urn:dev:ow:10e2073a01080063:current", sensors.Numeric(1.2), "A", 0},
		}},
	{"5.1.3 multiple measurements", `[
	 {"bn":"urn:dev:ow:10e2073a0108006:","bt":1.276020076001e+09,
	  "bu":"A","bver":5,
	  "n":"voltage","u":"V","v":120.1},
	 {"n":"current","t":-5,"v":1.2},
	 {"n":"current","t":-4,"v":1.3},
	 {"n":"current","t":-3,"v":1.4},
	 {"n":"current","t":-2,"v":1.5},
	 {"n":"current","t":-1,"v":1.6},
	 {"n":"current","v":1.7}]`,
		[]want{
			{"urn:dev:ow:10e2073a0108006:voltage", sensors.Numeric(120.1), "V", 1276020076.001},
			{"urn:dev:ow:10e2073a0108006:current", sensors.Numeric(1.2), "A", 1276020071.001},
			{"urn:dev:ow:10e2073a0108006:current", sensors.Numeric(1.3), "A", 1276020072.001},
			{"urn:dev:ow:10e2073a0108006:current", sensors.Numeric(1.4), "A", 1276020073.001},
			{"urn:dev:ow:10e2073a0108006:current", sensors.Numeric(1.5), "A", 1276020074.001},
			{"urn:dev:ow:10e2073a0108006:current", sensors.Numeric(1.6), "A", 1276020075.001},
			{"urn:dev:ow:10e2073a0108006:current", sensors.Numeric(1.7), "A", 1276020076.001},
		}},
	{"5.1.4 resolved data", `[
	 {"n":"urn:dev:ow:10e2073a0108006:voltage","u":"V","v":120.1,"t":1.276020076001e+09},
	 {"n":"urn:dev:ow:10e2073a0108006:current","u":"A","v":1.2,"t":1.276020071001e+09}]`,
		[]want{
			{"urn:dev:ow:10e2073a0108006:voltage", sensors.Numeric(120.1), "V", 1276020076.001},
			{"urn:dev:ow:10e2073a0108006:current", sensors.Numeric(1.2), "A", 1276020071.001},
		}},
	{"5.1.6 collection of resources", `[
	 {"bn":"urn:dev:ow:10e2073a01080063:","bt":1.320067464e+09,"bu":"%RH","v":20},
	 {"u":"lon","v":24.30621},
	 {"u":"lat","v":60.07965},
	 {"t":60,"v":20.3},
	 {"u":"lon","t":60,"v":24.30622},
	 {"u":"lat","t":60,"v":60.07965},
	 {"t":120,"v":20.7}]`,
		[]want{
			{"urn:dev:ow:10e2073a01080063:", sensors.Numeric(20), "%RH", 1320067464},
			{"urn:dev:ow:10e2073a01080063:", sensors.Numeric(24.30621), "lon", 1320067464},
			{"urn:dev:ow:10e2073a01080063:", sensors.Numeric(60.07965), "lat", 1320067464},
			{"urn:dev:ow:10e2073a01080063:", sensors.Numeric(20.3), "%RH", 1320067524},
			{"urn:dev:ow:10e2073a01080063:", sensors.Numeric(24.30622), "lon", 1320067524},
			{"urn:dev:ow:10e2073a01080063:", sensors.Numeric(60.07965), "lat", 1320067524},
			{"urn:dev:ow:10e2073a01080063:", sensors.Numeric(20.7), "%RH", 1320067584},
		}},
	{"5.1.7 multiple data types", `[
	 {"bn":"urn:dev:ow:10e2073a01080063:","bt":1.320078429e+09,
	  "n":"temperature","u":"Cel","v":27.2},
	 {"n":"humidity","u":"%RH","v":80},
	 {"n":"open","vb":true},
	 {"n":"nfc-reader","vs":"aa:bb:cc:dd:ee:ff"}]`,
		[]want{
			{"urn:dev:ow:10e2073a01080063:temperature", sensors.Numeric(27.2), "°C", 1320078429},
			{"urn:dev:ow:10e2073a01080063:humidity", sensors.Numeric(80), "%RH", 1320078429},
			{"urn:dev:ow:10e2073a01080063:open", sensors.Boolean(true), "", 1320078429},
			{"urn:dev:ow:10e2073a01080063:nfc-reader", sensors.String("aa:bb:cc:dd:ee:ff"), "", 1320078429},
		}},
	{"base value and sum", `[{"bn":"m:","bv":100,"bs":1000,"n":"e","v":1.5,"s":2},{"n":"c","s":5},{"bn":"x:","bt":1},{"n":"d","vd":"aGk"}]`,
		[]want{
			{"m:e", sensors.Numeric(101.5), "", 0},
			{"m:c", sensors.Numeric(1005), "", 0},
			{"x:d", sensors.String("aGk"), "", 1},
		}},
}

// check compares resolved records with the expected ones.
func check(t *testing.T, got []Record, wants []want, now time.Time) {
	t.Helper()
	if len(got) != len(wants) {
		t.Fatalf("got %d records, want %d: %+v", len(got), len(wants), got)
	}
	for i, w := range wants {
		g := got[i]
		wt := now
		if w.t >= relativeLimit {
			sec, frac := math.Modf(w.t)
			wt = time.Unix(int64(sec), int64(math.Round(frac*1e6))*1e3)
		} else if w.t != 0 {
			wt = now.Add(time.Duration(w.t * float64(time.Second)))
		}
		if g.Name != w.name || !g.Value.Equal(w.v) || g.Unit != w.unit || !g.Timestamp.Equal(wt) {
			t.Errorf("record %d = %q %s %q %s, want %q %s %q %s", i, g.Name, g.Value.Format(-1), g.Unit,
				g.Timestamp.Format(time.RFC3339Nano), w.name, w.v.Format(-1), w.unit, wt.Format(time.RFC3339Nano))
		}
	}
}

// toCBOR re-encodes a SenML JSON pack in CBOR with the integer labels.
func toCBOR(t testing.TB, js string) []byte {
	t.Helper()
	doc, err := decodeJSON([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	var pack []map[int]any
	for _, r := range doc.([]any) {
		m := map[int]any{}
		for k, v := range r.(map[string]any) {
			l := senmlLabels[k]
			switch x := v.(type) {
			case json.Number:
				f, _, _ := parseNumber(string(x))
				if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
					v = int64(f)
				} else {
					v = f
				}
			case string:
				if l == lVd {
					v = []byte("hi")
				}
			}
			m[l] = v
		}
		pack = append(pack, m)
	}
	b, err := cbor.Marshal(pack)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSenMLExamples(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for _, ex := range rfcExamples {
		t.Run("json/"+ex.name, func(t *testing.T) {
			got, err := SenMLJSON([]byte(ex.json), now, 0)
			if err != nil {
				t.Fatal(err)
			}
			check(t, got, ex.want, now)
		})
		t.Run("cbor/"+ex.name, func(t *testing.T) {
			got, err := SenMLCBOR(toCBOR(t, ex.json), now, 0)
			if err != nil {
				t.Fatal(err)
			}
			check(t, got, ex.want, now)
		})
	}
}

// TestSenMLCBORHex decodes a hand-written CBOR pack: [{-2: "d:", -3: 1e9
// as float64, 0: "t", 1: "Cel", 2: 21.5 as float16}, {0: "on", 4: true},
// {0: "c", 6: -5, 2: 7}].
func TestSenMLCBORHex(t *testing.T) {
	p, _ := hex.DecodeString("83" +
		"a5" + "21" + "62643a" + "22" + "fb41cdcd6500000000" + "00" + "6174" + "01" + "6343656c" + "02" + "f94d60" +
		"a2" + "00" + "626f6e" + "04" + "f5" +
		"a3" + "00" + "6163" + "06" + "24" + "02" + "07")
	now := time.Now()
	got, err := SenMLCBOR(p, now, 0)
	if err != nil {
		t.Fatal(err)
	}
	check(t, got, []want{
		{"d:t", sensors.Numeric(21.5), "°C", 1e9},
		{"d:on", sensors.Boolean(true), "", 1e9},
		{"d:c", sensors.Numeric(7), "", 1e9 - 5},
	}, now)
	if got[0].LocalName() != "t" || got[0].Decimals != 1 {
		t.Errorf("LocalName %q decimals %d, want t 1", got[0].LocalName(), got[0].Decimals)
	}
}

func TestSenMLErrors(t *testing.T) {
	now := time.Now()
	jsonBad := map[string]error{
		`{"n":"a","v":1}`:               ErrSyntax,
		`[1]`:                           ErrSyntax,
		`[]`:                            ErrSyntax,
		`[{"v":1}]`:                     ErrSyntax, // no name
		`[{"n":"a"}]`:                   ErrSyntax, // no value
		`[{"n":"a","v":1,"vs":"x"}]`:    ErrSyntax,
		`[{"n":"a","v":"1"}]`:           ErrType,
		`[{"n":"a","vb":1}]`:            ErrType,
		`[{"n":"a","v":1,"t":"now"}]`:   ErrType,
		`[{"n":3,"v":1}]`:               ErrType,
		`[{"n":"a","v":1,"foo_":2}]`:    ErrSyntax,
		`[{"n":"a","vd":"!!"}]`:         ErrType,
		`[{"n":"a","v":1,"t":1e300}]`:   ErrType,
		`[{"n":"a","v":1,"t":-1e300}]`:  ErrType,
		`[{"n":"a\u0000","v":1}]`:       ErrSyntax,
		`[{"n":"a","v":1}`:              ErrSyntax,
		`[{"bn":"a","bt":"x","v":1}]`:   ErrType,
		`[{"n":"a","v":1,"extra":{}}]`:  nil, // unknown labels are ignored
		`[{"n":"a","v":1},{"bn":"b:"}]`: nil, // trailing base-only record
	}
	for in, want := range jsonBad {
		_, err := SenMLJSON([]byte(in), now, 0)
		if want == nil {
			if err != nil {
				t.Errorf("SenMLJSON(%s): %v", in, err)
			}
			continue
		}
		if !errors.Is(err, want) {
			t.Errorf("SenMLJSON(%s) error = %v, want %v", in, err, want)
		}
	}
	cborBad := map[string]error{
		"a1000161":                           ErrSyntax, // a map, not an array
		"81a1006161":                         ErrSyntax, // no value
		"81a200616102ff":                     ErrSyntax, // break without indefinite length
		"81a20061610263":                     ErrSyntax, // truncated
		"81a2006161026178":                   ErrType,   // v is text
		"81a300616102010201":                 ErrSyntax, // duplicate label
		"81a2006161088101":                   ErrType,   // vd is an array
		"81a2006161086178":                   ErrType,   // vd is text
		"81a200616102c249010000000000000000": ErrType,   // bignum v
	}
	for in, want := range cborBad {
		p, err := hex.DecodeString(in)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if _, err := SenMLCBOR(p, now, 0); !errors.Is(err, want) {
			t.Errorf("SenMLCBOR(%s) error = %v, want %v", in, err, want)
		}
	}
}

func TestSenMLCBORStringLabels(t *testing.T) {
	p, err := cbor.Marshal([]map[string]any{{"bn": "d:", "n": "t", "u": "Cel", "v": 21.5}, {"n": "x", "v": 1, "x_": 1}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := SenMLCBOR(p, time.Now(), 0); !errors.Is(err, ErrSyntax) {
		t.Fatalf("must-understand string label: %v, want ErrSyntax", err)
	}
	p, err = cbor.Marshal([]map[string]any{{"bn": "d:", "n": "t", "u": "Cel", "v": 21.5}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	got, err := SenMLCBOR(p, now, 0)
	if err != nil {
		t.Fatal(err)
	}
	check(t, got, []want{{"d:t", sensors.Numeric(21.5), "°C", 0}}, now)
}
