package history

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/xiot/xiot/sensors"
	bolt "go.etcd.io/bbolt"
)

// DefaultMaxBytes is the size bound of a store opened with MaxBytes 0:
// about four million samples, years of a few sensors polled every minute.
const DefaultMaxBytes = 128 << 20

// Options configure a Store. The zero value keeps samples of any age up to
// DefaultMaxBytes and uses the local time zone for calendar periods.
type Options struct {
	// MaxAge drops samples older than this at Prune; 0 keeps them.
	MaxAge time.Duration
	// MaxBytes bounds the stored samples (keys and records, not the file,
	// which bbolt grows and reuses but never shrinks, so the file settles
	// at up to about twice this); Append drops the oldest samples, across
	// all series, beyond it. 0 means DefaultMaxBytes, a negative value no
	// bound.
	MaxBytes int64
	// Location is the time zone of calendar periods (a day starts at
	// local midnight) and of returned timestamps; nil means time.Local.
	Location *time.Location
	// Timeout bounds the wait for another process's lock on the file;
	// 0 means 5 s.
	Timeout time.Duration
}

// Store is an open history file. Its methods are safe for concurrent use.
type Store struct {
	db   *bolt.DB
	opts Options
}

// Buckets and meta keys.
var (
	seriesBucket = []byte("series")
	metaBucket   = []byte("meta")
	keySamples   = []byte("samples")
	keyBytes     = []byte("bytes")
)

// Errors returned by Append; wrapped with the field.
var (
	// ErrBadField reports a field that cannot be stored.
	ErrBadField = errors.New("history: field cannot be stored")
)

// Open opens or creates the store at path (mode 0600).
func Open(path string, opts Options) (*Store, error) {
	if opts.Location == nil {
		opts.Location = time.Local
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.MaxAge < 0 {
		return nil, fmt.Errorf("history: negative retention age %v", opts.MaxAge)
	}
	switch {
	case opts.MaxBytes == 0:
		opts.MaxBytes = DefaultMaxBytes
	case opts.MaxBytes < 0:
		opts.MaxBytes = 0 // no bound
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.Timeout})
	if err != nil {
		return nil, fmt.Errorf("history: opening %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(seriesBucket); err != nil {
			return err
		}
		_, err := tx.CreateBucketIfNotExists(metaBucket)
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("history: initialising %s: %w", path, err)
	}
	return &Store{db: db, opts: opts}, nil
}

// Close closes the file.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("history: closing %s: %w", s.db.Path(), err)
	}
	return nil
}

// Path returns the file name.
func (s *Store) Path() string { return s.db.Path() }

// seriesName is the bucket name of node's field name.
func seriesName(node, name string) []byte {
	return []byte(node + "\x00" + name)
}

func splitSeries(b []byte) (node, name string, ok bool) {
	node, name, ok = strings.Cut(string(b), "\x00")
	return
}

// checkField reports why f cannot be stored, or nil.
func checkField(f sensors.Field) error {
	if err := f.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrBadField, err)
	}
	if strings.ContainsRune(f.Node, 0) || strings.ContainsRune(f.Name, 0) {
		return fmt.Errorf("%w: NUL in node %q or name %q", ErrBadField, f.Node, f.Name)
	}
	if f.Timestamp.Before(minTime) || f.Timestamp.After(maxTime) {
		return fmt.Errorf("%w: %s/%s: timestamp %v outside 1678..2262", ErrBadField, f.Node, f.Name, f.Timestamp)
	}
	return nil
}

// Append stores fields in one transaction, durable (fsynced) when Append
// returns nil. A sample of the same node, name and timestamp as a stored
// one replaces it. Nothing is stored if any field is invalid. Beyond
// MaxBytes, the oldest samples are dropped in the same transaction.
func (s *Store) Append(fields []sensors.Field) error {
	type rec struct {
		series, key, val []byte
	}
	recs := make([]rec, 0, len(fields))
	for _, f := range fields {
		if err := checkField(f); err != nil {
			return err
		}
		v, err := encodeRecord(f)
		if err != nil {
			return err
		}
		recs = append(recs, rec{seriesName(f.Node, f.Name), timeKey(f.Timestamp), v})
	}
	if len(recs) == 0 {
		return nil
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		root := tx.Bucket(seriesBucket)
		m := readMeta(tx)
		var b *bolt.Bucket
		var last []byte
		for _, r := range recs {
			if b == nil || !bytes.Equal(last, r.series) {
				var err error
				if b, err = root.CreateBucketIfNotExists(r.series); err != nil {
					return err
				}
				last = r.series
			}
			if old := b.Get(r.key); old != nil {
				m.samples--
				m.bytes -= int64(len(r.key) + len(old))
			}
			if err := b.Put(r.key, r.val); err != nil {
				return err
			}
			m.samples++
			m.bytes += int64(len(r.key) + len(r.val))
		}
		if s.opts.MaxBytes > 0 && m.bytes > s.opts.MaxBytes {
			if _, err := dropOldest(root, &m, s.opts.MaxBytes); err != nil {
				return err
			}
		}
		return m.write(tx)
	})
	if err != nil {
		return fmt.Errorf("history: append %d samples to %s: %w", len(recs), s.db.Path(), err)
	}
	return nil
}

// meta are the counters of the meta bucket.
type meta struct {
	samples int64
	bytes   int64
}

func readMeta(tx *bolt.Tx) meta {
	b := tx.Bucket(metaBucket)
	get := func(k []byte) int64 {
		if v := b.Get(k); len(v) == 8 {
			return int64(binary.BigEndian.Uint64(v))
		}
		return 0
	}
	return meta{samples: get(keySamples), bytes: get(keyBytes)}
}

func (m meta) write(tx *bolt.Tx) error {
	b := tx.Bucket(metaBucket)
	if err := b.Put(keySamples, binary.BigEndian.AppendUint64(nil, uint64(m.samples))); err != nil {
		return err
	}
	return b.Put(keyBytes, binary.BigEndian.AppendUint64(nil, uint64(m.bytes)))
}

// bucketNames lists the series, so that they can be modified after the
// iteration (bbolt forbids it during).
func bucketNames(root *bolt.Bucket) ([][]byte, error) {
	var names [][]byte
	err := root.ForEachBucket(func(k []byte) error {
		names = append(names, slices.Clone(k))
		return nil
	})
	return names, err
}

// dropOldest deletes the globally oldest samples until m.bytes ≤ limit.
func dropOldest(root *bolt.Bucket, m *meta, limit int64) (int, error) {
	names, err := bucketNames(root)
	if err != nil {
		return 0, err
	}
	curs := make([]*bolt.Cursor, len(names))
	firsts := make([][]byte, len(names))
	for i, n := range names {
		curs[i] = root.Bucket(n).Cursor()
		firsts[i], _ = curs[i].First()
	}
	dropped := 0
	for m.bytes > limit {
		best := -1
		for i, k := range firsts {
			if k != nil && (best < 0 || bytes.Compare(k, firsts[best]) < 0) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		c := curs[best]
		k, v := c.First()
		m.bytes -= int64(len(k) + len(v))
		m.samples--
		if err := c.Delete(); err != nil {
			return dropped, err
		}
		dropped++
		firsts[best], _ = c.First()
	}
	return dropped, nil
}

// Prune drops the samples older than MaxAge before now, and the oldest
// beyond MaxBytes. It returns how many it dropped.
func (s *Store) Prune(now time.Time) (int, error) {
	dropped := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		root := tx.Bucket(seriesBucket)
		m := readMeta(tx)
		if s.opts.MaxAge > 0 {
			cut := timeKey(clampTime(now.Add(-s.opts.MaxAge)))
			names, err := bucketNames(root)
			if err != nil {
				return err
			}
			for _, name := range names {
				c := root.Bucket(name).Cursor()
				for k, v := c.First(); k != nil && bytes.Compare(k, cut) < 0; k, v = c.First() {
					m.bytes -= int64(len(k) + len(v))
					m.samples--
					if err := c.Delete(); err != nil {
						return err
					}
					dropped++
				}
			}
		}
		if s.opts.MaxBytes > 0 && m.bytes > s.opts.MaxBytes {
			n, err := dropOldest(root, &m, s.opts.MaxBytes)
			dropped += n
			if err != nil {
				return err
			}
		}
		return m.write(tx)
	})
	if err != nil {
		return dropped, fmt.Errorf("history: prune %s: %w", s.db.Path(), err)
	}
	return dropped, nil
}

// Stats describe the stored samples.
type Stats struct {
	Samples int64 // number of samples
	Bytes   int64 // bytes of keys and records (what MaxBytes bounds)
	Series  int   // number of node/field series
}

// Stats counts what is stored.
func (s *Store) Stats() (Stats, error) {
	var st Stats
	err := s.db.View(func(tx *bolt.Tx) error {
		m := readMeta(tx)
		st.Samples, st.Bytes = m.samples, m.bytes
		return tx.Bucket(seriesBucket).ForEachBucket(func([]byte) error { st.Series++; return nil })
	})
	if err != nil {
		return st, fmt.Errorf("history: stats of %s: %w", s.db.Path(), err)
	}
	return st, nil
}

// scan calls fn for every sample of the series selected by nodes and
// fields (empty selects all) with from ≤ timestamp ≤ to (a zero bound is
// open), series by series, each in time order.
func (s *Store) scan(ctx context.Context, nodes, fields []string, from, to time.Time, fn func(sensors.Field) error) error {
	lo, hi := timeKey(minTime), timeKey(maxTime)
	if !from.IsZero() {
		lo = timeKey(clampTime(from))
	}
	if !to.IsZero() {
		hi = timeKey(clampTime(to))
	}
	return s.db.View(func(tx *bolt.Tx) error {
		root := tx.Bucket(seriesBucket)
		return root.ForEachBucket(func(sn []byte) error {
			node, name, ok := splitSeries(sn)
			if !ok || (len(nodes) > 0 && !slices.Contains(nodes, node)) || (len(fields) > 0 && !slices.Contains(fields, name)) {
				return nil
			}
			c := root.Bucket(sn).Cursor()
			n := 0
			for k, v := c.Seek(lo); k != nil && bytes.Compare(k, hi) <= 0; k, v = c.Next() {
				if n++; n%4096 == 0 {
					if err := ctx.Err(); err != nil {
						return err
					}
				}
				ts, _ := keyTime(k)
				f, err := decodeRecord(node, name, ts.In(s.opts.Location), v)
				if err != nil {
					return err
				}
				if err := fn(f); err != nil {
					return err
				}
			}
			return ctx.Err()
		})
	})
}

func clampTime(t time.Time) time.Time {
	if t.Before(minTime) {
		return minTime
	}
	if t.After(maxTime) {
		return maxTime
	}
	return t
}

// Query returns the stored samples of the given nodes and fields (empty
// selects all) taken from from to to, both included (a zero bound is
// open), in time order; samples of the same instant are ordered by node
// and name.
func (s *Store) Query(ctx context.Context, nodes, fields []string, from, to time.Time) ([]sensors.Field, error) {
	var out []sensors.Field
	err := s.scan(ctx, nodes, fields, from, to, func(f sensors.Field) error {
		out = append(out, f)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("history: query %s: %w", s.db.Path(), err)
	}
	sortFields(out)
	return out, nil
}

// sortFields orders by timestamp, then node, then name.
func sortFields(fs []sensors.Field) {
	slices.SortStableFunc(fs, func(a, b sensors.Field) int {
		if c := a.Timestamp.Compare(b.Timestamp); c != 0 {
			return c
		}
		if c := strings.Compare(a.Node, b.Node); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
}
