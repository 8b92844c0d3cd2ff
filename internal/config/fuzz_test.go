package config

import (
	"errors"
	"testing"
)

// FuzzDecode checks that no input panics, that every failure is a located
// *Error, and that whatever decodes also survives a round trip.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(ExampleYAML()))
	f.Add([]byte("account:\n  jid: a@b\n  owners: [&x c@d, *x]\nboard: sim\n"))
	f.Add([]byte("xmpp: {keepalive: 1s, max_stanza_bytes: 0x10000}\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Decode("f.yaml", data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error is not an *Error: %v", err)
			}
			return
		}
		out := c.String()
		if _, err := Decode("g.yaml", []byte(out)); err != nil {
			t.Fatalf("output of a valid config does not decode: %v\n%s", err, out)
		}
	})
}
