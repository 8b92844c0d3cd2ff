package control

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestAuditPersistsAndRotates(t *testing.T) {
	path := filepath.Join(t.TempDir(), AuditFile)
	a, err := OpenAudit(path)
	if err != nil {
		t.Fatal(err)
	}
	a.maxBytes = 1000
	ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 20 {
		if err := a.Add(Entry{Time: ts.Add(time.Duration(i) * time.Second), From: "op@example.org/x", Via: "iq", Name: "Heater", Value: "true", Type: "boolean", Accepted: i%2 == 0, Reason: "r"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	cur, err := ReadAudit(path)
	if err != nil {
		t.Fatal(err)
	}
	old, err := ReadAudit(path + ".1")
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(path); st.Size() > 1000 || len(cur) == 0 || len(old) == 0 {
		t.Fatalf("rotation: current %d entries (%d bytes), previous %d", len(cur), st.Size(), len(old))
	}
	last := cur[len(cur)-1]
	if last.From != "op@example.org/x" || !last.Time.Equal(ts.Add(19*time.Second)) || last.Accepted {
		t.Errorf("last entry %+v", last)
	}
	if len(a.Recent()) != 20 {
		t.Errorf("%d entries in memory", len(a.Recent()))
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("audit log mode %v, want 0600", st.Mode().Perm())
	}
	// A torn last line is skipped.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"time":"2026-01-01T00:00:`)
	f.Close()
	if again, err := ReadAudit(path); err != nil || len(again) != len(cur) {
		t.Errorf("torn line: %d entries, %v", len(again), err)
	}
}
