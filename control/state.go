package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/xiot/xiot/internal/atomicfile"
)

// override is a timed override in force: the parameter holds Value until
// Until, then returns to Revert.
type override struct {
	Node   string    `json:"node,omitempty"`
	Name   string    `json:"name"`
	Type   string    `json:"type"`
	Value  string    `json:"value"`
	Revert string    `json:"revert"`
	Until  time.Time `json:"until"`
}

// stateFile is the persisted form of the overrides in force.
type stateFile struct {
	Version   int        `json:"version"`
	Overrides []override `json:"overrides"`
}

// loadState reads the overrides file; a missing file is no overrides.
func loadState(path string) ([]override, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("control: overrides: %w", err)
	}
	var s stateFile
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("control: overrides %s: %w", path, err)
	}
	return s.Overrides, nil
}

// saveState writes the overrides file atomically: a temporary file in the
// same directory, synced, then renamed over the old one, and the directory
// synced, so a crash leaves either the old or the new file.
func saveState(path string, ovs []override) error {
	data, err := json.MarshalIndent(stateFile{Version: 1, Overrides: ovs}, "", "  ")
	if err != nil {
		return fmt.Errorf("control: overrides: %w", err)
	}
	if err := atomicfile.Write(path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("control: overrides: %w", err)
	}
	return nil
}
