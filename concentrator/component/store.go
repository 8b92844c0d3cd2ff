package component

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/xiot/xiot/internal/atomicfile"
)

// SubscriptionsFile is the name of the subscription store in the state
// directory.
const SubscriptionsFile = "concentrator-subscriptions.json"

// storeFile is the on-disk form of the subscription store.
type storeFile struct {
	Version int `json:"version"`
	// Devices maps device ids to the bare JIDs subscribed to their
	// presence.
	Devices map[string][]string `json:"devices"`
}

// store remembers who is subscribed to each device's presence. It is
// safe for concurrent use.
type store struct {
	path string // "" keeps the store in memory

	mu   sync.Mutex
	subs map[string][]string // device id → sorted bare JIDs
}

// openStore loads the store at path ("" for memory only); a missing file
// is an empty store.
func openStore(path string) (*store, error) {
	s := &store{path: path, subs: map[string][]string{}}
	if path == "" {
		return s, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("component: subscription store: %w", err)
	}
	var f storeFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("component: subscription store %s: %w", path, err)
	}
	for dev, jids := range f.Devices {
		jids = slices.Clone(jids)
		slices.Sort(jids)
		s.subs[dev] = slices.Compact(jids)
	}
	return s, nil
}

// subscribers returns the bare JIDs subscribed to dev.
func (s *store) subscribers(dev string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.subs[dev])
}

// devices returns the ids of the devices that have subscribers.
func (s *store) devices() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.subs))
	for id := range s.subs {
		ids = append(ids, id)
	}
	return ids
}

// has reports whether bare is subscribed to dev.
func (s *store) has(dev, bare string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := slices.BinarySearch(s.subs[dev], bare)
	return ok
}

// add subscribes bare to dev and saves the store when it changed.
func (s *store) add(dev, bare string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.subs[dev]
	i, ok := slices.BinarySearch(list, bare)
	if ok {
		return nil
	}
	s.subs[dev] = slices.Insert(list, i, bare)
	return s.saveLocked()
}

// remove unsubscribes bare from dev and saves the store when it changed.
func (s *store) remove(dev, bare string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.subs[dev]
	i, ok := slices.BinarySearch(list, bare)
	if !ok {
		return nil
	}
	list = slices.Delete(list, i, i+1)
	if len(list) == 0 {
		delete(s.subs, dev)
	} else {
		s.subs[dev] = list
	}
	return s.saveLocked()
}

// saveLocked writes the store atomically: a temporary file in the same
// directory, synced, renamed over the old one, then the directory synced,
// so a crash leaves the old or the new store. Callers hold s.mu.
func (s *store) saveLocked() error {
	if s.path == "" {
		return nil
	}
	data, err := json.MarshalIndent(storeFile{Version: 1, Devices: s.subs}, "", "  ")
	if err != nil {
		return fmt.Errorf("component: subscription store: %w", err)
	}
	dir := filepath.Dir(s.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("component: subscription store: %w", err)
	}
	if err := atomicfile.Write(s.path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("component: saving subscription store: %w", err)
	}
	return nil
}
