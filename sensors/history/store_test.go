package history

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/xiot/xiot/sensors"
)

var t0 = time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)

func openTemp(t *testing.T, opts Options) *Store {
	t.Helper()
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	s, err := Open(filepath.Join(t.TempDir(), "history.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// sample is a numeric momentary field of node/name.
func sample(node, name string, v float64, ts time.Time) sensors.Field {
	return sensors.Field{
		Node: node, Name: name, Value: sensors.Numeric(v), Unit: "°C", Decimals: 2,
		Timestamp: ts, Types: sensors.Momentary, QoS: sensors.QoSAutomaticReadout,
	}
}

// everyKind has one field of each value kind.
func everyKind(ts time.Time) []sensors.Field {
	loc := time.FixedZone("X", 3600)
	vals := []sensors.Value{
		sensors.Numeric(21.5), sensors.Numeric(math.Inf(-1)), sensors.Boolean(true), sensors.Int(-7),
		sensors.Long(1 << 40), sensors.String("héllo"), sensors.Enum("On", "OnOff"),
		sensors.Date(time.Date(2026, 3, 1, 0, 0, 0, 0, loc)), sensors.DateTime(time.Date(2026, 3, 1, 12, 30, 0, 5, loc)),
		sensors.TimeOfDay(time.Date(0, 1, 1, 7, 45, 0, 0, time.UTC)), sensors.Duration(90 * time.Minute),
	}
	var out []sensors.Field
	for i, v := range vals {
		f := sensors.Field{
			Node: "n", Name: v.Kind().String() + string(rune('a'+i)), Value: v, Timestamp: ts,
			Types: sensors.Status | sensors.Identity, QoS: sensors.QoSWarning | sensors.QoSSigned,
			Writable: i%2 == 0, Decimals: i % 3,
		}
		if v.Kind() == sensors.KindNumeric {
			f.Unit = "W"
		}
		out = append(out, f)
	}
	return out
}

func TestAppendQueryEveryKind(t *testing.T) {
	s := openTemp(t, Options{})
	in := everyKind(t0)
	if err := s.Append(in); err != nil {
		t.Fatal(err)
	}
	got, err := s.Query(context.Background(), nil, nil, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(in) {
		t.Fatalf("got %d fields, want %d", len(got), len(in))
	}
	byName := make(map[string]sensors.Field)
	for _, f := range got {
		byName[f.Name] = f
	}
	for _, w := range in {
		g := byName[w.Name]
		if !g.Value.Equal(w.Value) || g.Unit != w.Unit || g.Decimals != w.Decimals || g.Types != w.Types ||
			g.QoS != w.QoS || g.Writable != w.Writable || !g.Timestamp.Equal(w.Timestamp) || g.Node != w.Node {
			t.Errorf("stored %v, got back %v", w, g)
		}
		if w.Value.Kind() == sensors.KindDateTime {
			wt, _ := w.Value.Time()
			gt, _ := g.Value.Time()
			if _, off := gt.Zone(); off != 3600 || !gt.Equal(wt) {
				t.Errorf("dateTime %v came back as %v", wt, gt)
			}
		}
	}
}

func TestQueryRangeOrderAndFilters(t *testing.T) {
	s := openTemp(t, Options{})
	var in []sensors.Field
	for i := range 10 {
		ts := t0.Add(time.Duration(i) * time.Second)
		in = append(in, sample("b", "T", float64(i), ts), sample("a", "T", float64(i), ts), sample("a", "H", float64(i), ts))
	}
	if err := s.Append(in); err != nil {
		t.Fatal(err)
	}
	// The same instant again replaces the sample.
	if err := s.Append([]sensors.Field{sample("a", "T", 99, t0.Add(3*time.Second))}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tests := []struct {
		name          string
		nodes, fields []string
		from, to      time.Time
		want          int
	}{
		{"all", nil, nil, time.Time{}, time.Time{}, 30},
		{"node a", []string{"a"}, nil, time.Time{}, time.Time{}, 20},
		{"field T", nil, []string{"T"}, time.Time{}, time.Time{}, 20},
		{"a/T from 2 s to 5 s inclusive", []string{"a"}, []string{"T"}, t0.Add(2 * time.Second), t0.Add(5 * time.Second), 4},
		{"open end", nil, nil, t0.Add(8 * time.Second), time.Time{}, 6},
		{"empty range", nil, nil, t0.Add(20 * time.Second), t0.Add(30 * time.Second), 0},
		{"unknown node", []string{"zz"}, nil, time.Time{}, time.Time{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Query(ctx, tt.nodes, tt.fields, tt.from, tt.to)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.want {
				t.Fatalf("got %d samples, want %d", len(got), tt.want)
			}
			for i := 1; i < len(got); i++ {
				a, b := got[i-1], got[i]
				if b.Timestamp.Before(a.Timestamp) || (b.Timestamp.Equal(a.Timestamp) && a.Node+a.Name > b.Node+b.Name) {
					t.Fatalf("out of order: %v then %v", a, b)
				}
			}
		})
	}
	got, _ := s.Query(ctx, []string{"a"}, []string{"T"}, t0.Add(3*time.Second), t0.Add(3*time.Second))
	if len(got) != 1 || got[0].Text() != "99.00" {
		t.Errorf("replaced sample = %v", got)
	}
	st, err := s.Stats()
	if err != nil || st.Samples != 30 || st.Series != 3 || st.Bytes <= 0 {
		t.Errorf("Stats = %+v, %v", st, err)
	}
}

func TestAppendRejectsBadFields(t *testing.T) {
	s := openTemp(t, Options{})
	good := sample("n", "T", 1, t0)
	tests := []struct {
		name string
		f    sensors.Field
	}{
		{"no value", sensors.Field{Node: "n", Name: "T", Timestamp: t0, Types: sensors.Momentary}},
		{"no timestamp", sample("n", "T", 1, time.Time{})},
		{"NUL in name", sample("n", "T\x00x", 1, t0)},
		{"year 3000", sample("n", "T", 1, time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC))},
	}
	for _, tt := range tests {
		if err := s.Append([]sensors.Field{good, tt.f}); !errors.Is(err, ErrBadField) {
			t.Errorf("%s: Append = %v, want ErrBadField", tt.name, err)
		}
	}
	if st, _ := s.Stats(); st.Samples != 0 {
		t.Errorf("a rejected batch stored %d samples", st.Samples)
	}
}

// TestOneDayAt1Hz stores a day of 1 Hz samples (86,400) and counts a
// from/to range exactly, and its hourly aggregates.
func TestOneDayAt1Hz(t *testing.T) {
	s := openTemp(t, Options{})
	const n = 86400
	batch := make([]sensors.Field, 0, 3600)
	for i := range n {
		batch = append(batch, sample("room", "Temperature", float64(i), t0.Add(time.Duration(i)*time.Second)))
		if len(batch) == cap(batch) {
			if err := s.Append(batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	ctx := context.Background()
	from, to := t0.Add(6*time.Hour), t0.Add(18*time.Hour-time.Second)
	got, err := s.Query(ctx, []string{"room"}, []string{"Temperature"}, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 43200 {
		t.Fatalf("06:00:00..17:59:59 has %d samples, want 43200", len(got))
	}
	if !got[0].Timestamp.Equal(from) || !got[len(got)-1].Timestamp.Equal(to) {
		t.Errorf("range %v..%v", got[0].Timestamp, got[len(got)-1].Timestamp)
	}
	all, err := s.Query(ctx, nil, nil, time.Time{}, time.Time{})
	if err != nil || len(all) != n {
		t.Fatalf("whole day: %d samples, %v", len(all), err)
	}
	hours, err := s.Aggregate(ctx, sensors.HistoricalHour, nil, nil, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(hours) != 24*3 {
		t.Fatalf("%d hourly fields, want 72", len(hours))
	}
	// Hour 5 holds values 18000..21599: mean 19799.5.
	for _, f := range hours[15:18] {
		if !f.Timestamp.Equal(t0.Add(5 * time.Hour)) {
			t.Errorf("%v stamped %v", f, f.Timestamp)
		}
		want := map[string]string{"Temperature": "19799.50", "Temperature, Max": "21599.00", "Temperature, Min": "18000.00"}[f.Name]
		if f.Text() != want || !f.Types.Has(sensors.HistoricalHour) {
			t.Errorf("%v, want %s", f, want)
		}
	}
	// A range from 06:30 to 09:59:59: the 06:00 hour starts before it and
	// is left out; asking for the maximum gives it alone.
	part, err := s.Aggregate(ctx, sensors.HistoricalHour, nil, []string{"Temperature, Max"}, t0.Add(6*time.Hour+30*time.Minute), t0.Add(10*time.Hour-time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(part) != 3 || !part[0].Timestamp.Equal(t0.Add(7*time.Hour)) || part[2].Text() != "35999.00" || part[0].Name != "Temperature, Max" {
		t.Errorf("07:00..09:00 maxima = %v", part)
	}
	day, err := s.Historical(ctx, sensors.HistoricalDay|sensors.Momentary, nil, nil, time.Time{}, time.Time{})
	if err != nil || len(day) != 3 || day[0].Text() != "43199.50" {
		t.Errorf("daily = %v, %v", day, err)
	}
}

func TestPeriodStart(t *testing.T) {
	// Thursday 2026-08-13 14:35:27.5 in UTC+2.
	loc := time.FixedZone("CEST", 2*3600)
	ts := time.Date(2026, 8, 13, 14, 35, 27, 5e8, loc)
	tests := []struct {
		p    sensors.ReadoutType
		want time.Time
	}{
		{sensors.HistoricalSecond, time.Date(2026, 8, 13, 14, 35, 27, 0, loc)},
		{sensors.HistoricalMinute, time.Date(2026, 8, 13, 14, 35, 0, 0, loc)},
		{sensors.HistoricalHour, time.Date(2026, 8, 13, 14, 0, 0, 0, loc)},
		{sensors.HistoricalDay, time.Date(2026, 8, 13, 0, 0, 0, 0, loc)},
		{sensors.HistoricalWeek, time.Date(2026, 8, 10, 0, 0, 0, 0, loc)},
		{sensors.HistoricalMonth, time.Date(2026, 8, 1, 0, 0, 0, 0, loc)},
		{sensors.HistoricalQuarter, time.Date(2026, 7, 1, 0, 0, 0, 0, loc)},
		{sensors.HistoricalYear, time.Date(2026, 1, 1, 0, 0, 0, 0, loc)},
	}
	for _, tt := range tests {
		got, ok := PeriodStart(tt.p, ts.UTC(), loc)
		if !ok || !got.Equal(tt.want) {
			t.Errorf("%v: %v, want %v", tt.p, got, tt.want)
		}
	}
	// A Sunday belongs to the week that started the Monday before.
	if got, _ := PeriodStart(sensors.HistoricalWeek, time.Date(2026, 8, 16, 23, 0, 0, 0, loc), loc); !got.Equal(time.Date(2026, 8, 10, 0, 0, 0, 0, loc)) {
		t.Errorf("Sunday's week starts %v", got)
	}
	if _, ok := PeriodStart(sensors.HistoricalOther, ts, loc); ok {
		t.Error("historicalOther has a period")
	}
}

func TestAggregateNonNumericAndPeriods(t *testing.T) {
	s := openTemp(t, Options{})
	var in []sensors.Field
	for i := range 4 {
		ts := t0.Add(time.Duration(i) * 40 * 24 * time.Hour) // spans quarters
		f := sensors.Field{Node: "d", Name: "Door", Value: sensors.Boolean(i%2 == 1), Timestamp: ts, Types: sensors.Status}
		in = append(in, f, sample("d", "T", float64(i), ts))
	}
	if err := s.Append(in); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	q, err := s.Aggregate(ctx, sensors.HistoricalQuarter, []string{"d"}, []string{"Door"}, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	// Samples on Nov 24, Jan 3, Feb 12, Mar 24: quarters 2026Q4 and 2027Q1,
	// the latest door state of each.
	if len(q) != 2 || q[0].Text() != "false" || q[1].Text() != "true" || q[1].Types != sensors.HistoricalQuarter {
		t.Errorf("quarters = %v", q)
	}
	// Naming the field selects its mean only (2026: 0; 2027: 1, 2, 3).
	y, err := s.Aggregate(ctx, sensors.HistoricalYear, nil, []string{"T"}, time.Time{}, time.Time{})
	if err != nil || len(y) != 2 || y[0].Text() != "0.00" || y[1].Text() != "2.00" {
		t.Fatalf("years = %v, %v", y, err)
	}
	if y, err = s.Aggregate(ctx, sensors.HistoricalYear, nil, nil, time.Time{}, time.Time{}); err != nil || len(y) != 8 {
		t.Fatalf("years of every field = %v, %v", y, err)
	}
	if _, err := s.Aggregate(ctx, sensors.HistoricalDay|sensors.HistoricalHour, nil, nil, time.Time{}, time.Time{}); err == nil {
		t.Error("two periods at once accepted")
	}
	other, err := s.Historical(ctx, sensors.HistoricalOther, nil, nil, time.Time{}, time.Time{})
	if err != nil || len(other) != 8 || other[0].Types != sensors.HistoricalOther {
		t.Errorf("historicalOther = %v, %v", other, err)
	}
}

func TestRetention(t *testing.T) {
	s := openTemp(t, Options{MaxAge: time.Hour})
	var in []sensors.Field
	for i := range 120 {
		in = append(in, sample("n", "T", float64(i), t0.Add(time.Duration(i)*time.Minute)))
	}
	if err := s.Append(in); err != nil {
		t.Fatal(err)
	}
	n, err := s.Prune(t0.Add(2 * time.Hour))
	if err != nil || n != 60 {
		t.Fatalf("Prune dropped %d, %v; want 60", n, err)
	}
	got, _ := s.Query(context.Background(), nil, nil, time.Time{}, time.Time{})
	if len(got) != 60 || !got[0].Timestamp.Equal(t0.Add(time.Hour)) {
		t.Errorf("kept %d samples from %v", len(got), got[0].Timestamp)
	}

	// By size: each sample of this shape is a fixed number of bytes.
	probe := openTemp(t, Options{})
	if err := probe.Append(in[:1]); err != nil {
		t.Fatal(err)
	}
	st, _ := probe.Stats()
	per := st.Bytes
	small := openTemp(t, Options{MaxBytes: 50 * per})
	for i := 0; i < 120; i += 10 {
		// Two series, interleaved in time.
		var b []sensors.Field
		for _, f := range in[i : i+10] {
			b = append(b, f, sample("m", "T", 0, f.Timestamp.Add(time.Second)))
		}
		if err := small.Append(b); err != nil {
			t.Fatal(err)
		}
	}
	st, _ = small.Stats()
	if st.Samples != 50 || st.Bytes != 50*per {
		t.Fatalf("after the size bound: %+v (sample %d bytes)", st, per)
	}
	got, _ = small.Query(context.Background(), nil, nil, time.Time{}, time.Time{})
	// The newest 50 of 240: n from minute 95 (its m sample too) on.
	if len(got) != 50 || !got[0].Timestamp.Equal(t0.Add(95*time.Minute)) {
		t.Errorf("oldest kept %v", got[0])
	}
}

func TestRetentionDefaults(t *testing.T) {
	if s := openTemp(t, Options{}); s.opts.MaxBytes != DefaultMaxBytes {
		t.Errorf("default bound %d", s.opts.MaxBytes)
	}
	if s := openTemp(t, Options{MaxBytes: -1}); s.opts.MaxBytes != 0 {
		t.Errorf("unbounded store has bound %d", s.opts.MaxBytes)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "h.db"), Options{MaxAge: -time.Hour}); err == nil {
		t.Error("negative age accepted")
	}
}

func TestQueryCancelled(t *testing.T) {
	s := openTemp(t, Options{})
	var in []sensors.Field
	for i := range 10000 {
		in = append(in, sample("n", "T", 1, t0.Add(time.Duration(i)*time.Second)))
	}
	if err := s.Append(in); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Query(ctx, nil, nil, time.Time{}, time.Time{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Query on a cancelled context = %v", err)
	}
}

func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := Open(path, Options{Timeout: 50 * time.Millisecond}); err == nil {
		t.Error("a second Open of a locked store succeeded")
	}
	if _, err := Open(filepath.Join(t.TempDir(), "no", "such", "dir", "h.db"), Options{}); err == nil {
		t.Error("Open in a missing directory succeeded")
	}
}
