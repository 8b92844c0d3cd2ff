package component

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xiot/xiot/internal/config"
)

func TestNodeStore(t *testing.T) {
	dir := t.TempDir()
	s, err := openNodeStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.putMapping("a", config.MQTTMapping{Topic: "a/{device}", Unit: "W"}); err != nil {
		t.Fatal(err)
	}
	if err := s.putMapping("b", config.MQTTMapping{Topic: "b/{device}"}); err != nil {
		t.Fatal(err)
	}
	if err := s.putMapping("a", config.MQTTMapping{Topic: "a/{device}", Unit: "kW"}); err != nil {
		t.Fatal(err)
	}
	if err := s.deleteMapping("b"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"site2", "site3"} {
		if err := s.putBroker(id, config.MQTTBroker{URL: "tcp://" + id + ":1883", Username: "u", Password: "secret"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.deleteBroker("site3"); err != nil {
		t.Fatal(err)
	}
	if err := s.setName("dev1", "Lamp"); err != nil {
		t.Fatal(err)
	}
	if err := s.setName("dev2", "x"); err != nil {
		t.Fatal(err)
	}
	if err := s.setName("dev2", ""); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, NodesFile)
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("node store mode %v, %v; want 0600", st.Mode(), err)
	}
	again, err := openNodeStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	ms := again.mappings()
	if len(ms) != 1 || ms[0].ID != "a" || ms[0].Mapping.Unit != "kW" {
		t.Errorf("mappings after reload %+v", ms)
	}
	if bs := again.brokers(); len(bs) != 1 || bs[0].ID != "site2" || bs[0].Broker.Password != "secret" || bs[0].Broker.URL != "tcp://site2:1883" {
		t.Errorf("brokers after reload %+v", bs)
	}
	if again.name("dev1") != "Lamp" || again.name("dev2") != "" {
		t.Errorf("names after reload: %q %q", again.name("dev1"), again.name("dev2"))
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}

	for _, tc := range []struct{ name, content, want string }{
		{"later version", `{"version": 3, "mappings": []}`, "version 3"},
		{"no version", `{"mappings": []}`, "version 0"},
		{"not JSON", `{"version": 1,`, "unexpected end"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := t.TempDir()
			if err := os.WriteFile(filepath.Join(d, NodesFile), []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := openNodeStore(d); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("open: %v, want an error naming %q", err, tc.want)
			}
		})
	}
	// A version 1 file (no brokers) is read, and written back as version 2.
	v1 := t.TempDir()
	if err := os.WriteFile(filepath.Join(v1, NodesFile), []byte(`{"version": 1, "mappings": [{"id": "m", "mapping": {"Topic": "m/{device}"}}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	old, err := openNodeStore(v1)
	if err != nil || len(old.mappings()) != 1 || len(old.brokers()) != 0 {
		t.Fatalf("version 1 store: %v", err)
	}
	if err := old.putBroker("b", config.MQTTBroker{URL: "tcp://b:1883"}); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(v1, NodesFile)); !strings.Contains(string(data), `"version": 2`) || !strings.Contains(string(data), `"Topic": "m/{device}"`) {
		t.Errorf("version 1 store written back as %s", data)
	}
	// The state directory is replaced by a file: the change is refused
	// and not kept in memory.
	gone := filepath.Join(t.TempDir(), "state")
	s, err = openNodeStore(gone)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(gone, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.putMapping("a", config.MQTTMapping{Topic: "a/{device}"}); err == nil {
		t.Error("saving below a file succeeded")
	}
	if len(s.mappings()) != 0 {
		t.Error("a mapping that was not saved is kept")
	}
	if err := s.setName("d", "x"); err == nil || s.name("d") != "" {
		t.Errorf("name not saved: %v, kept %q", err, s.name("d"))
	}
}
