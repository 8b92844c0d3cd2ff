package sensors

import (
	"testing"
)

// FuzzParseValue checks that ParseValue never panics and that whatever it
// accepts formats to text it reads back to the same value and decimals.
func FuzzParseValue(f *testing.F) {
	seeds := []struct {
		k Kind
		s string
	}{
		{KindNumeric, "21.50"}, {KindNumeric, "-1.5e-3"}, {KindNumeric, "NaN"}, {KindBoolean, "1"},
		{KindInt, "-7"}, {KindLong, "9223372036854775807"}, {KindDate, "2026-11-24Z"}, {KindDate, "2026-11-24+05:00"}, {KindTime, "10:05:07.5-02:00"},
		{KindDateTime, "2026-11-24T10:05:07.25+01:00"}, {KindTime, "23:59:59"},
		{KindDuration, "-P2DT1H1.5S"}, {KindDuration, "PT0.000000001S"}, {KindString, "x"},
	}
	for _, s := range seeds {
		f.Add(uint8(s.k), s.s)
	}
	f.Fuzz(func(t *testing.T, k uint8, s string) {
		kind := Kind(k % uint8(KindTime+1))
		v, dec, err := ParseValue(kind, s)
		if err != nil {
			return
		}
		if kind == KindNumeric && dec > 20 {
			return // FormatFloat with huge precision is fine but slow
		}
		text := v.Format(dec)
		back, dec2, err := ParseValue(kind, text)
		if err != nil {
			t.Fatalf("%s %q formatted as %q, which does not parse: %v", kind, s, text, err)
		}
		if kind == KindNumeric {
			// Formatting with dec decimals may round; the text must be stable.
			if again := back.Format(dec2); again != text || dec2 != dec {
				t.Fatalf("%s %q: %q then %q (decimals %d, %d)", kind, s, text, again, dec, dec2)
			}
			return
		}
		if !back.Equal(v) {
			t.Fatalf("%s %q: formatted %q, read back %q", kind, s, text, back.Format(dec2))
		}
	})
}

// FuzzParseReadoutType checks that accepted type lists round-trip.
func FuzzParseReadoutType(f *testing.F) {
	for _, s := range []string{"momentary", "all", "historical,peak", "none", "status identity"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rt, err := ParseReadoutType(s)
		if err != nil {
			return
		}
		back, err := ParseReadoutType(rt.String())
		if err != nil || back != rt {
			t.Fatalf("%q → %v → %v, %v", s, rt, back, err)
		}
	})
}
