package history

import (
	"bytes"
	"testing"
)

// FuzzDecodeRecord feeds arbitrary bytes to the record decoder: it must
// never panic, and whatever it accepts must encode back to the same bytes.
func FuzzDecodeRecord(f *testing.F) {
	for _, fl := range everyKind(t0) {
		b, err := encodeRecord(fl)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{recordVersion, 8, 1, 0, 2, 0, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		fl, err := decodeRecord("n", "F", t0, b)
		if err != nil {
			return
		}
		again, err := encodeRecord(fl)
		if err != nil {
			t.Fatalf("decoded %v does not encode: %v", fl, err)
		}
		if !bytes.Equal(again, b) {
			// Varints have one canonical form only in encodeRecord's
			// output; accept a non-canonical input that decodes to the
			// same field.
			back, err := decodeRecord("n", "F", t0, again)
			if err != nil || !back.Value.Equal(fl.Value) || back.Unit != fl.Unit || back.Types != fl.Types {
				t.Fatalf("%x decodes to %v, which re-encodes to %x", b, fl, again)
			}
		}
	})
}

func TestDecodeCorruptRecord(t *testing.T) {
	good, err := encodeRecord(sample("n", "T", 1, t0))
	if err != nil {
		t.Fatal(err)
	}
	for i := range good {
		if _, err := decodeRecord("n", "T", t0, good[:i]); err == nil {
			t.Errorf("truncated to %d bytes: no error", i)
		}
	}
	if _, err := decodeRecord("n", "T", t0, append(good, 0)); err == nil {
		t.Error("trailing byte: no error")
	}
}
