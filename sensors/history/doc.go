// Package history is the device's embedded, durable store of sensor
// samples, from which XEP-0323 historical readouts are answered.
//
// Samples are sensors.Field values. Append writes a batch in one
// transaction that is on disk (fsync) when it returns, so a kill -9 or a
// power cut at any moment leaves a store that opens and has every sample
// whose Append returned; samples taken while the device is offline are
// simply kept and served later. Query returns raw samples of a time range
// in time order; Aggregate and Historical turn them into the XEP-0323
// historical field types (historicalSecond … historicalYear, one value per
// calendar period: mean, with "Name, Min" and "Name, Max" peaks). Prune
// enforces retention by age and by size; a Recorder polls sensors at their
// intervals and appends what they read.
//
// # Why bbolt
//
// The store is go.etcd.io/bbolt, not a pure-Go SQLite. The access pattern
// is a key-value one (series × time, appended at the end, scanned by
// range), which a B+tree with ordered keys answers directly without a
// query planner. bbolt is one small pure-Go dependency (no cgo, no
// transpiled C), a single file, and every committed read-write
// transaction is fsynced with copy-on-write pages and a double meta page,
// so a torn write can never corrupt committed data: exactly the
// durability contract this package promises, with nothing to tune.
// SQLite in pure Go (modernc.org/sqlite) is a much larger transpiled
// dependency whose SQL, WAL and checkpoint settings would buy nothing
// here.
//
// # Layout
//
// One bucket per series (node id and field name, joined by a NUL byte)
// under the "series" bucket; keys are the sample time as 8 big-endian
// bytes of Unix nanoseconds with the sign bit flipped, so they sort in
// time order; values are the record encoding of record.go. A "meta"
// bucket counts samples and bytes for retention by size.
package history
