package history

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/xiot/xiot/sensors"
)

// recordVersion is the first byte of every record.
const recordVersion = 1

// errRecord reports a stored record that cannot be decoded.
var errRecord = errors.New("history: corrupt record")

// timeKey is the key of a sample taken at t: Unix nanoseconds, sign bit
// flipped, big-endian, so that keys sort in time order.
func timeKey(t time.Time) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], uint64(t.UnixNano())^1<<63)
	return k[:]
}

// keyTime is the inverse of timeKey.
func keyTime(k []byte) (time.Time, bool) {
	if len(k) != 8 {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(k)^1<<63)), true
}

// Times a key can hold: what UnixNano represents.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// encodeRecord encodes everything of f but its node, name and timestamp,
// which the bucket and key hold.
func encodeRecord(f sensors.Field) ([]byte, error) {
	b := make([]byte, 0, 32+len(f.Unit))
	b = append(b, recordVersion, byte(f.Value.Kind()))
	b = binary.AppendUvarint(b, uint64(f.Types))
	b = binary.AppendUvarint(b, uint64(f.QoS))
	b = binary.AppendUvarint(b, uint64(f.Decimals))
	w := byte(0)
	if f.Writable {
		w = 1
	}
	b = append(b, w)
	b = appendString(b, f.Unit)
	v := f.Value
	switch v.Kind() {
	case sensors.KindNumeric:
		x, _ := v.Float()
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(x))
	case sensors.KindBoolean:
		x, _ := v.Bool()
		if x {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	case sensors.KindInt, sensors.KindLong:
		x, _ := v.Integer()
		b = binary.AppendVarint(b, x)
	case sensors.KindString:
		s, _ := v.Text()
		b = appendString(b, s)
	case sensors.KindEnum:
		s, _ := v.Text()
		b = appendString(appendString(b, s), v.DataType())
	case sensors.KindDate, sensors.KindDateTime, sensors.KindTime:
		t, _ := v.Time()
		tb, err := t.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("history: field %q: %w", f.Name, err)
		}
		b = appendString(b, string(tb))
	case sensors.KindDuration:
		d, _ := v.Duration()
		b = binary.AppendVarint(b, int64(d))
	default:
		return nil, fmt.Errorf("history: field %q: %w", f.Name, sensors.ErrNoValue)
	}
	return b, nil
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// reader consumes a record, remembering the first error.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) byte() byte {
	if len(r.b) < 1 {
		r.bad = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uvarint(limit uint64) uint64 {
	x, n := binary.Uvarint(r.b)
	if n <= 0 || x > limit {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return x
}

func (r *reader) varint() int64 {
	x, n := binary.Varint(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return x
}

func (r *reader) string() string {
	n := r.uvarint(math.MaxInt32)
	if r.bad || n > uint64(len(r.b)) {
		r.bad = true
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// decodeRecord decodes a record of node/name taken at ts. It never panics
// on a corrupt record: it returns errRecord.
func decodeRecord(node, name string, ts time.Time, b []byte) (sensors.Field, error) {
	r := reader{b: b}
	if r.byte() != recordVersion {
		return sensors.Field{}, fmt.Errorf("%w: %s/%s at %v: unknown version", errRecord, node, name, ts)
	}
	kind := sensors.Kind(r.byte())
	f := sensors.Field{Node: node, Name: name, Timestamp: ts}
	f.Types = sensors.ReadoutType(r.uvarint(math.MaxUint16))
	f.QoS = sensors.QoS(r.uvarint(math.MaxUint16))
	f.Decimals = int(r.uvarint(15))
	f.Writable = r.byte() == 1
	f.Unit = r.string()
	switch kind {
	case sensors.KindNumeric:
		if len(r.b) < 8 {
			r.bad = true
			break
		}
		f.Value = sensors.Numeric(math.Float64frombits(binary.BigEndian.Uint64(r.b)))
		r.b = r.b[8:]
	case sensors.KindBoolean:
		f.Value = sensors.Boolean(r.byte() == 1)
	case sensors.KindInt:
		x := r.varint()
		if x < math.MinInt32 || x > math.MaxInt32 {
			r.bad = true
		}
		f.Value = sensors.Int(int32(x))
	case sensors.KindLong:
		f.Value = sensors.Long(r.varint())
	case sensors.KindString:
		f.Value = sensors.String(r.string())
	case sensors.KindEnum:
		s := r.string()
		f.Value = sensors.Enum(s, r.string())
	case sensors.KindDate, sensors.KindDateTime, sensors.KindTime:
		var t time.Time
		if err := t.UnmarshalBinary([]byte(r.string())); err != nil {
			r.bad = true
		}
		switch kind {
		case sensors.KindDate:
			f.Value = sensors.Date(t)
		case sensors.KindDateTime:
			f.Value = sensors.DateTime(t)
		default:
			f.Value = sensors.TimeOfDay(t)
		}
	case sensors.KindDuration:
		f.Value = sensors.Duration(time.Duration(r.varint()))
	default:
		r.bad = true
	}
	if r.bad || len(r.b) != 0 {
		return sensors.Field{}, fmt.Errorf("%w: %s/%s at %v", errRecord, node, name, ts)
	}
	return f, nil
}
