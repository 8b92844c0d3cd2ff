package control

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"
)

// Entry is one line of the audit log: who asked to set what, when, and
// whether it was done, or why not. The Controller's own actions (failsafe,
// the end of a timed override) are logged with an empty From.
type Entry struct {
	Time     time.Time `json:"time"`
	From     string    `json:"from,omitempty"`     // requester JID
	Via      string    `json:"via"`                // iq, message, form, failsafe, revert, boot, restore
	Node     string    `json:"node,omitempty"`     // node id
	Name     string    `json:"name"`               // parameter name
	Value    string    `json:"value"`              // requested value, lexical form
	Type     string    `json:"type"`               // parameter type of Value
	Override string    `json:"override,omitempty"` // duration of a timed override
	Accepted bool      `json:"accepted"`
	Reason   string    `json:"reason,omitempty"` // why it was refused, or what caused it
}

// Audit is an append-only log of Entries, kept as JSON lines in a file
// (one entry per line, so a crash loses at most the line being written)
// and in memory up to a bound. It is safe for concurrent use.
type Audit struct {
	path     string
	max      int
	maxBytes int64

	mu      sync.Mutex
	f       *os.File
	size    int64
	entries []Entry
}

// auditMemory is how many entries Audit keeps in memory.
const auditMemory = 1000

// AuditMaxBytes is the size at which the audit log file is rotated: it is
// renamed with the suffix ".1" (replacing the previous one) and a new file
// is started, so the log keeps between one and two times this much.
const AuditMaxBytes = 8 << 20

// OpenAudit opens (creating it, mode 0600) the audit log at path; "" keeps
// the log in memory only.
func OpenAudit(path string) (*Audit, error) {
	a := &Audit{path: path, max: auditMemory, maxBytes: AuditMaxBytes}
	if path == "" {
		return a, nil
	}
	if err := a.open(); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *Audit) open() error {
	f, err := os.OpenFile(a.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("control: audit log: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("control: audit log: %w", err)
	}
	a.f, a.size = f, st.Size()
	return nil
}

// rotate moves a full log aside; callers hold a.mu.
func (a *Audit) rotate() error {
	if err := a.f.Close(); err != nil {
		return fmt.Errorf("control: audit log %s: %w", a.path, err)
	}
	a.f = nil
	if err := os.Rename(a.path, a.path+".1"); err != nil {
		return fmt.Errorf("control: audit log: %w", err)
	}
	return a.open()
}

// Add appends e.
func (a *Audit) Add(e Entry) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.entries = append(a.entries, e)
	if len(a.entries) > a.max {
		a.entries = append(a.entries[:0], a.entries[len(a.entries)-a.max:]...)
	}
	if a.f == nil {
		return nil
	}
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("control: audit log: %w", err)
	}
	if a.size > 0 && a.size+int64(len(line))+1 > a.maxBytes {
		if err := a.rotate(); err != nil {
			return err
		}
	}
	n, err := a.f.Write(append(line, '\n'))
	a.size += int64(n)
	if err != nil {
		return fmt.Errorf("control: audit log %s: %w", a.path, err)
	}
	return nil
}

// Recent returns the entries added since the log was opened (at most the
// last 1000), oldest first.
func (a *Audit) Recent() []Entry {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Entry(nil), a.entries...)
}

// Close closes the file.
func (a *Audit) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.f == nil {
		return nil
	}
	err := a.f.Close()
	a.f = nil
	return err
}

// ReadAudit reads every entry of the audit log file at path, oldest first.
// A torn last line (a crash while writing) is skipped.
func ReadAudit(path string) ([]Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("control: audit log: %w", err)
	}
	defer f.Close()
	var out []Entry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		var e Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			continue
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("control: audit log %s: %w", path, err)
	}
	return out, nil
}
