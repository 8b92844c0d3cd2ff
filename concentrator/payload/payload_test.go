package payload

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/xiot/xiot/sensors"
)

func TestPlain(t *testing.T) {
	tests := []struct {
		in       string
		kind     sensors.Kind
		want     sensors.Value
		unit     string
		decimals int
		err      error
	}{
		{in: "23.4", want: sensors.Numeric(23.4), decimals: 1},
		{in: " 21.50\n", want: sensors.Numeric(21.5), decimals: 2},
		{in: "23.4 °C", want: sensors.Numeric(23.4), unit: "°C", decimals: 1},
		{in: "23.4°C", want: sensors.Numeric(23.4), unit: "°C", decimals: 1},
		{in: "-1e3", want: sensors.Numeric(-1000)},
		{in: "5 EUR", want: sensors.Numeric(5), unit: "EUR"},
		{in: "5EUR", want: sensors.Numeric(5), unit: "EUR"},
		{in: "45 %", want: sensors.Numeric(45), unit: "%"},
		{in: "true", want: sensors.Boolean(true)},
		{in: "ON", want: sensors.Boolean(true)},
		{in: "off", want: sensors.Boolean(false)},
		{in: "No", want: sensors.Boolean(false)},
		{in: "hello world", want: sensors.String("hello world")},
		{in: "12:30", want: sensors.String("12:30")},
		{in: "NaN", want: sensors.String("NaN")},
		{in: "2026-12-01", want: sensors.String("2026-12-01")},
		{in: "", want: sensors.String("")},
		{in: "1", kind: sensors.KindBoolean, want: sensors.Boolean(true)},
		{in: "OFF", kind: sensors.KindBoolean, want: sensors.Boolean(false)},
		{in: "maybe", kind: sensors.KindBoolean, err: ErrType},
		{in: "21.5 °C", kind: sensors.KindNumeric, want: sensors.Numeric(21.5), unit: "°C", decimals: 1},
		{in: "warm", kind: sensors.KindNumeric, err: ErrType},
		{in: "42", kind: sensors.KindInt, want: sensors.Int(42)},
		{in: "42.0", kind: sensors.KindLong, want: sensors.Long(42)},
		{in: "42.5", kind: sensors.KindLong, err: ErrType},
		{in: "3000000000", kind: sensors.KindInt, err: ErrType},
		{in: "1", kind: sensors.KindString, want: sensors.String("1")},
		{in: "PT1M30S", kind: sensors.KindDuration, want: sensors.Duration(90 * time.Second)},
		{in: "P1X", kind: sensors.KindDuration, err: ErrType},
		{in: "\xff\xfe", err: ErrSyntax},
		{in: strings.Repeat("9", 100), kind: sensors.KindString, want: sensors.String(strings.Repeat("9", 100))},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			f, err := Plain([]byte(tt.in), tt.kind, 0)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("Plain(%q) error = %v, want %v", tt.in, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Plain(%q): %v", tt.in, err)
			}
			if !f.Value.Equal(tt.want) || f.Unit != tt.unit || f.Decimals != tt.decimals {
				t.Errorf("Plain(%q) = %v %q dec %d, want %v %q dec %d", tt.in, f.Value.Format(-1), f.Unit, f.Decimals, tt.want.Format(-1), tt.unit, tt.decimals)
			}
		})
	}
}

func TestSizeBound(t *testing.T) {
	big := []byte(strings.Repeat("1", DefaultMaxSize+1))
	now := time.Now()
	checks := map[string]error{}
	_, checks["plain"] = Plain(big, 0, 0)
	_, checks["json"] = JSON(big, Path{}, 0, 0)
	_, checks["senml+json"] = SenMLJSON(big, now, 0)
	_, checks["senml+cbor"] = SenMLCBOR(big, now, 0)
	_, checks["homie"] = Homie(big, HomieString, "", 0)
	_, checks["plain limit 3"] = Plain([]byte("1234"), 0, 3)
	for name, err := range checks {
		if !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: error = %v, want ErrTooLarge", name, err)
		}
	}
}
