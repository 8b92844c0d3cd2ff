package component

import (
	"strings"
	"testing"

	"mellium.im/xmpp/jid"
)

func TestLocalpart(t *testing.T) {
	for _, tc := range []struct{ id, want string }{
		{"plug1", "plug1"},
		{"Tasmota_ABC123", "tasmota_abc123"},
		{"Kitchen Sensor", `kitchen\20sensor`},
		{"a@b/c", `a\40b\2fc`},
		{`it's "x" & <y>:z`, `it\27s\20\22x\22\20\26\20\3cy\3e\3az`},
		{"Küche", "küche"},
		{"", "mqtt-e3b0c44298fc1c14"},
		{strings.Repeat("x", 2000), "mqtt-"}, // too long for a localpart
	} {
		got := Localpart(tc.id, "mqtt.example.org")
		if got != tc.want && !(strings.HasSuffix(tc.want, "-") && strings.HasPrefix(got, tc.want) && len(got) == len(tc.want)+16) {
			t.Errorf("Localpart(%q) = %q, want %q", tc.id, got, tc.want)
		}
		if _, err := jid.New(got, "mqtt.example.org", ""); err != nil {
			t.Errorf("Localpart(%q) = %q is not a valid localpart: %v", tc.id, got, err)
		}
	}
}

func FuzzLocalpart(f *testing.F) {
	for _, s := range []string{"plug1", "Kitchen Sensor", "a@b", "\x00", "\\20", "\u00a0x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		got := Localpart(id, "mqtt.example.org")
		j, err := jid.New(got, "mqtt.example.org", "")
		if err != nil || j.Localpart() != got {
			t.Fatalf("Localpart(%q) = %q: not a normalised localpart (%v)", id, got, err)
		}
	})
}
