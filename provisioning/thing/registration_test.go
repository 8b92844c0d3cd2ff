package thing

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/provisioning/registry"
)

// TestStateFile: the first New makes a random KEY and keeps it in a 0600
// file, with the claim text and the thing's JID; the next New reads the
// same; another thing gets another KEY; no temporary file is left.
func TestStateFile(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Registry: jid.MustParse("registry.example.org"), Tags: []registry.Tag{{Name: "MAN", Value: "example.org"}},
		StateFile: filepath.Join(dir, "sub", "a.json"), From: "a@mqtt.example.org"}
	r1, err := New(nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	st := r1.State()
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(st.Key) {
		t.Errorf("KEY %q", st.Key)
	}
	if st.JID != "a@mqtt.example.org" || st.Claim != r1.ClaimText() || !strings.Contains(st.Claim, ";KEY:"+st.Key) || !strings.Contains(st.Claim, ";MAN:example.org") {
		t.Errorf("state %+v, claim text %q", st, r1.ClaimText())
	}
	fi, err := os.Stat(opts.StateFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v, want 0600", fi.Mode().Perm())
	}
	r2, err := New(nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r2.State(), st) {
		t.Errorf("reloaded %+v, want %+v", r2.State(), st)
	}
	opts.StateFile = filepath.Join(dir, "sub", "b.json")
	r3, err := New(nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	if r3.State().Key == st.Key {
		t.Error("two things share a KEY")
	}
	ents, err := os.ReadDir(filepath.Join(dir, "sub"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 2 {
		t.Errorf("files %v, want a.json and b.json only", ents)
	}
	if _, ok := r1.Owner(); ok {
		t.Error("a new thing has an owner")
	}
	if n, err := r1.Register(context.Background()); err == nil || n != Skipped {
		t.Errorf("Register without a session: %v, %v", n, err)
	}
}

func TestStateFileErrors(t *testing.T) {
	dir := t.TempDir()
	damaged := filepath.Join(dir, "damaged.json")
	if err := os.WriteFile(damaged, []byte(`{"key":`), 0o600); err != nil {
		t.Fatal(err)
	}
	noKey := filepath.Join(dir, "nokey.json")
	if err := os.WriteFile(noKey, []byte(`{"owner":"o@example.org"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, file, want string
	}{
		{"no file name", "", "no state file"},
		{"damaged", damaged, "damaged"},
		{"no KEY", noKey, "damaged"},
		{"unwritable", filepath.Join(damaged, "x.json"), "not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(nil, Options{StateFile: tc.file})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := ReadState(filepath.Join(dir, "absent.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadState of a missing file: %v", err)
	}
}

// TestNoticeRefusals: notices from anybody but the registry, about nodes,
// or of unknown kinds are refused before anything changes.
func TestNoticeRefusals(t *testing.T) {
	r, err := New(nil, Options{Registry: jid.MustParse("registry.example.org"), StateFile: filepath.Join(t.TempDir(), "s.json")})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, from string
		el         *xmpp.Element
		cond       string
	}{
		{"stranger", "mallory@example.org/x", xmpp.NewElement(NS, "claimed", "jid", "mallory@example.org"), "forbidden"},
		{"no from", "", xmpp.NewElement(NS, "claimed", "jid", "mallory@example.org"), "forbidden"},
		{"registry's user", "registry.example.org@other.org", xmpp.NewElement(NS, "claimed", "jid", "o@example.org"), "forbidden"},
		{"a node", "registry.example.org", xmpp.NewElement(NS, "claimed", "jid", "o@example.org", "nodeId", "n1"), "item-not-found"},
		{"a source", "registry.example.org", xmpp.NewElement(NS, "removed", "sourceId", "MQTT"), "item-not-found"},
		{"unknown notice", "registry.example.org", xmpp.NewElement(NS, "search"), "feature-not-implemented"},
		{"other namespace", "registry.example.org", xmpp.NewElement("urn:example", "claimed"), "feature-not-implemented"},
		{"empty", "registry.example.org", nil, "feature-not-implemented"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			iq := xmpp.NewElement("", "iq", "type", "set", "id", "1", "from", tc.from, "to", "thing@example.org")
			if tc.el != nil {
				iq.Add(tc.el)
			}
			err := r.HandleStanza(context.Background(), nil, iq)
			var se *xmpp.StanzaError
			if !errors.As(err, &se) || se.Condition != tc.cond {
				t.Errorf("HandleStanza: %v, want %s", err, tc.cond)
			}
			if _, ok := r.Owner(); ok {
				t.Error("the thing got an owner")
			}
		})
	}
}

func TestParseTags(t *testing.T) {
	for _, tc := range []struct {
		name string
		meta map[string]string
		want []registry.Tag
		err  string
	}{
		{"empty", nil, nil, ""},
		{"sorted", map[string]string{"SN": "1", "MAN": "x"}, []registry.Tag{{Name: "MAN", Value: "x"}, {Name: "SN", Value: "1"}}, ""},
		{"numeric", map[string]string{"V": "#1.5"}, []registry.Tag{{Name: "V", Num: 1.5, Numeric: true}}, ""},
		{"bad number", map[string]string{"V": "#one"}, nil, "not a number"},
		{"KEY", map[string]string{"key": "x"}, nil, "KEY is made by the device"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseTags(tc.meta)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("ParseTags: %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || len(got) != len(tc.want) {
				t.Fatalf("ParseTags = %v, %v; want %v", got, err, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("tag %d = %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}
