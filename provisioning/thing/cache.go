package thing

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/xiot/xiot/provisioning"
)

// CacheFile keeps the decision cache of a provisioning client in a file
// (mode 0600, replaced atomically), so that a restarted device serves the
// grants it had even while its provisioning server is unreachable
// (XEP-0324 §5.2) and does not ask everything again. The file holds what
// provisioning.Client.SaveCache writes: at most the client's CacheSize
// decisions, for the one server the client asks.
type CacheFile struct {
	c    *provisioning.Client
	path string
	log  *slog.Logger

	mu   sync.Mutex
	last []byte // what the file holds
}

// OpenCache loads the decisions kept in path into c and returns the file
// to save them to. A missing file loads nothing; an unreadable or damaged
// one is logged and replaced at the next save (the device then asks
// again: it fails closed, never open). A cache saved for another server
// is ignored.
func OpenCache(c *provisioning.Client, path string, log *slog.Logger) *CacheFile {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &CacheFile{c: c, path: path, log: log}
	fh, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return f
	}
	if err != nil {
		log.Warn("provisioning: decision cache not loaded", "file", path, "err", err)
		return f
	}
	defer fh.Close()
	n, err := c.LoadCache(fh)
	if err != nil {
		log.Warn("provisioning: decision cache damaged; starting empty", "file", path, "err", err)
		return f
	}
	log.Debug("provisioning: decision cache loaded", "file", path, "decisions", n)
	return f
}

// Save writes the cached decisions unless the file already holds them.
func (f *CacheFile) Save() error {
	// Snapshot and write under one lock: a save racing the one after a
	// clearCache must not put the cleared decisions back in the file.
	f.mu.Lock()
	defer f.mu.Unlock()
	var b bytes.Buffer
	if err := f.c.SaveCache(&b); err != nil {
		return err
	}
	if f.last != nil && bytes.Equal(f.last, b.Bytes()) {
		return nil
	}
	if err := writeFileAtomic(f.path, b.Bytes()); err != nil {
		return err
	}
	f.last = b.Bytes()
	return nil
}

// Remove deletes the file; the cache in memory is left alone.
func (f *CacheFile) Remove() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.last = nil
	if err := os.Remove(f.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("provisioning: %w", err)
	}
	return nil
}

// Run saves the cache every interval (default 10 s) until ctx ends, and
// once more then.
func (f *CacheFile) Run(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = 10 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			f.save()
			return
		case <-t.C:
			f.save()
		}
	}
}

func (f *CacheFile) save() {
	if err := f.Save(); err != nil {
		f.log.Warn("provisioning: decision cache not saved", "file", f.path, "err", err)
	}
}
