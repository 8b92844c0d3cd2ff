package payload

import (
	"errors"
	"testing"
	"time"

	"github.com/xiot/xiot/sensors"
)

func TestHomie(t *testing.T) {
	tests := []struct {
		datatype, format, in string
		want                 sensors.Value
		decimals             int
		err                  error
	}{
		{HomieInteger, "", "-42", sensors.Long(-42), 0, nil},
		{HomieInteger, "", "4.2", sensors.Value{}, 0, ErrType},
		{HomieInteger, "", "", sensors.Value{}, 0, ErrType},
		{HomieFloat, "", "21.50", sensors.Numeric(21.5), 2, nil},
		{HomieFloat, "", "1e3", sensors.Numeric(1000), 0, nil},
		{HomieFloat, "", "warm", sensors.Value{}, 0, ErrType},
		{HomieBoolean, "", "true", sensors.Boolean(true), 0, nil},
		{HomieBoolean, "", "false", sensors.Boolean(false), 0, nil},
		{HomieBoolean, "", "ON", sensors.Value{}, 0, ErrType},
		{HomieString, "", "hello", sensors.String("hello"), 0, nil},
		{"", "", "", sensors.String(""), 0, nil},
		{HomieEnum, "low,medium,high", "medium", sensors.Enum("medium", "low,medium,high"), 0, nil},
		{HomieEnum, "low,medium,high", "max", sensors.Value{}, 0, ErrType},
		{HomieEnum, "", "", sensors.Value{}, 0, ErrType},
		{HomieColor, "rgb", "255,128,0", sensors.String("255,128,0"), 0, nil},
		{HomieColor, "rgb", "256,0,0", sensors.Value{}, 0, ErrType},
		{HomieColor, "hsv", "360,100,100", sensors.String("360,100,100"), 0, nil},
		{HomieColor, "hsv", "1,2", sensors.Value{}, 0, ErrType},
		{HomieColor, "cmyk", "1,2,3", sensors.Value{}, 0, ErrType},
		{HomieDatetime, "", "2026-12-01T10:00:00Z", sensors.DateTime(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)), 0, nil},
		{HomieDatetime, "", "2026-12-01T11:00:00+01:00", sensors.DateTime(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)), 0, nil},
		{HomieDatetime, "", "yesterday", sensors.Value{}, 0, ErrType},
		{HomieDuration, "", "PT12H5M46S", sensors.Duration(12*time.Hour + 5*time.Minute + 46*time.Second), 0, nil},
		{HomieDuration, "", "12h", sensors.Value{}, 0, ErrType},
		{"quaternion", "", "1", sensors.Value{}, 0, ErrType},
		{HomieString, "", "\xff", sensors.Value{}, 0, ErrSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.datatype+"/"+tt.in, func(t *testing.T) {
			f, err := Homie([]byte(tt.in), tt.datatype, tt.format, 0)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("error = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !f.Value.Equal(tt.want) || f.Decimals != tt.decimals || f.Value.DataType() != tt.want.DataType() {
				t.Errorf("got %s dec %d, want %s dec %d", f.Value.Format(-1), f.Decimals, tt.want.Format(-1), tt.decimals)
			}
			k, err := HomieKind(tt.datatype)
			if err != nil || k != f.Value.Kind() {
				t.Errorf("HomieKind(%q) = %v, %v; decoded a %v", tt.datatype, k, err, f.Value.Kind())
			}
		})
	}
}
