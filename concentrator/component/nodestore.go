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
	"github.com/xiot/xiot/internal/config"
)

// NodesFile is the name of the node store in the state directory: the
// topic mappings and brokers created over XEP-0326 (with the brokers'
// passwords, hence mode 0600) and the display names given to devices,
// restored at start.
const NodesFile = "concentrator-nodes.json"

// nodesVersion is the version of the node store's format: 2 added the
// brokers (version 1 files are read as they are; a program that reads
// only version 1 refuses a version 2 file rather than drop its brokers).
const nodesVersion = 2

// maxNames bounds the display names kept.
const maxNames = 10000

// storedMapping is a created mapping in the node store.
type storedMapping struct {
	ID      string             `json:"id"`
	Mapping config.MQTTMapping `json:"mapping"`
}

// storedBroker is a created broker in the node store.
type storedBroker struct {
	ID     string            `json:"id"`
	Broker config.MQTTBroker `json:"broker"`
}

// nodesFileData is the on-disk form of the node store.
type nodesFileData struct {
	Version  int               `json:"version"`
	Brokers  []storedBroker    `json:"brokers,omitempty"`
	Mappings []storedMapping   `json:"mappings"`
	Names    map[string]string `json:"names,omitempty"`
}

// nodeStore keeps the created nodes, written atomically (0600) on every
// change. It is safe for concurrent use.
type nodeStore struct {
	path string // "" keeps the store in memory

	mu   sync.Mutex
	data nodesFileData
}

// openNodeStore loads the node store of dir ("" for memory only); a
// missing file is an empty store, a file of a later version an error.
func openNodeStore(dir string) (*nodeStore, error) {
	s := &nodeStore{data: nodesFileData{Version: nodesVersion, Names: map[string]string{}}}
	if dir == "" {
		return s, nil
	}
	s.path = filepath.Join(dir, NodesFile)
	data, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("component: node store: %w", err)
	}
	var f nodesFileData
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("component: node store %s: %w", s.path, err)
	}
	if f.Version < 1 || f.Version > nodesVersion {
		return nil, fmt.Errorf("component: node store %s: version %d, this program reads version %d", s.path, f.Version, nodesVersion)
	}
	if f.Names == nil {
		f.Names = map[string]string{}
	}
	f.Version = nodesVersion // written back in the current format
	s.data = f
	return s, nil
}

// mappings returns the created mappings.
func (s *nodeStore) mappings() []storedMapping {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.data.Mappings)
}

// putMapping adds or replaces a mapping and saves the store.
func (s *nodeStore) putMapping(id string, m config.MQTTMapping) error {
	return putEntry(s, &s.data.Mappings, storedMapping{ID: id, Mapping: m}, func(x storedMapping) string { return x.ID })
}

// deleteMapping removes a mapping and saves the store.
func (s *nodeStore) deleteMapping(id string) error {
	return deleteEntry(s, &s.data.Mappings, id, func(x storedMapping) string { return x.ID })
}

// brokers returns the created brokers.
func (s *nodeStore) brokers() []storedBroker {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.data.Brokers)
}

// putBroker adds or replaces a broker and saves the store.
func (s *nodeStore) putBroker(id string, b config.MQTTBroker) error {
	return putEntry(s, &s.data.Brokers, storedBroker{ID: id, Broker: b}, func(x storedBroker) string { return x.ID })
}

// deleteBroker removes a broker and saves the store.
func (s *nodeStore) deleteBroker(id string) error {
	return deleteEntry(s, &s.data.Brokers, id, func(x storedBroker) string { return x.ID })
}

// putEntry replaces the entry of *list with e's id, or appends e, and
// saves the store; a failed save leaves *list as it was.
func putEntry[T any](s *nodeStore, list *[]T, e T, idOf func(T) string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *list
	l := slices.Clone(old)
	if i := slices.IndexFunc(l, func(x T) bool { return idOf(x) == idOf(e) }); i >= 0 {
		l[i] = e
	} else {
		l = append(l, e)
	}
	*list = l
	if err := s.saveLocked(); err != nil {
		*list = old
		return err
	}
	return nil
}

// deleteEntry removes the entry with id from *list and saves the store;
// a failed save leaves *list as it was.
func deleteEntry[T any](s *nodeStore, list *[]T, id string, idOf func(T) string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *list
	*list = slices.DeleteFunc(slices.Clone(old), func(x T) bool { return idOf(x) == id })
	if err := s.saveLocked(); err != nil {
		*list = old
		return err
	}
	return nil
}

// name returns the display name given to a device, or "".
func (s *nodeStore) name(dev string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.data.Names[dev]
}

// setName gives a device a display name ("" removes it) and saves.
func (s *nodeStore) setName(dev, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, had := s.data.Names[dev]
	if old == name {
		return nil
	}
	if name == "" {
		delete(s.data.Names, dev)
	} else {
		if !had && len(s.data.Names) >= maxNames {
			return fmt.Errorf("component: node store: more than %d display names", maxNames)
		}
		s.data.Names[dev] = name
	}
	if err := s.saveLocked(); err != nil {
		if had {
			s.data.Names[dev] = old
		} else {
			delete(s.data.Names, dev)
		}
		return err
	}
	return nil
}

// saveLocked writes the store atomically (see writeAtomic); callers
// hold s.mu.
func (s *nodeStore) saveLocked() error {
	if s.path == "" {
		return nil
	}
	data, err := json.MarshalIndent(s.data, "", "  ")
	if err != nil {
		return fmt.Errorf("component: node store: %w", err)
	}
	if err := writeAtomic(s.path, append(data, '\n')); err != nil {
		return fmt.Errorf("component: saving node store: %w", err)
	}
	return nil
}

// writeAtomic writes data to path with mode 0600, creating its directory
// (0700) first; see atomicfile.Write.
func writeAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return atomicfile.Write(path, data, 0o600)
}
