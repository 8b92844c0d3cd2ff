package component

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestStorePersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", SubscriptionsFile)
	s, err := openStore(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		add       bool
		dev, bare string
	}{
		{true, "plug1", "b@example.org"},
		{true, "plug1", "a@example.org"},
		{true, "plug1", "a@example.org"},
		{true, "meter", "a@example.org"},
		{false, "meter", "a@example.org"},
		{false, "nothing", "a@example.org"},
	} {
		op := s.add
		if !step.add {
			op = s.remove
		}
		if err := op(step.dev, step.bare); err != nil {
			t.Fatal(err)
		}
	}
	s2, err := openStore(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := s2.subscribers("plug1"); !slices.Equal(got, []string{"a@example.org", "b@example.org"}) {
		t.Errorf("plug1 subscribers after reload: %v", got)
	}
	if got := s2.subscribers("meter"); len(got) != 0 || s2.has("meter", "a@example.org") {
		t.Errorf("meter subscribers after reload: %v", got)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("state directory holds %d files, want only the store (no temporary files left)", len(entries))
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm()&0o077 != 0 {
		t.Errorf("store file mode: %v %v", st.Mode(), err)
	}
}

func TestStoreRefusesGarbage(t *testing.T) {
	path := filepath.Join(t.TempDir(), SubscriptionsFile)
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := openStore(path); err == nil {
		t.Error("a corrupt store was accepted")
	}
}

func FuzzOpenStore(f *testing.F) {
	f.Add([]byte(`{"version":1,"devices":{"plug1":["a@example.org","a@example.org"]}}`))
	f.Add([]byte(`{"devices":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), SubscriptionsFile)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := openStore(path)
		if err != nil {
			return
		}
		for dev, list := range s.subs {
			if !slices.IsSorted(list) || len(slices.Compact(slices.Clone(list))) != len(list) {
				t.Fatalf("device %q: subscribers not sorted and distinct: %v", dev, list)
			}
		}
	})
}
