package history

import (
	"context"
	"testing"
	"time"

	"github.com/xiot/xiot/sensors"
)

// BenchmarkAppend measures one durable Append of a poll of 4 fields, the
// recorder's usual batch.
func BenchmarkAppend(b *testing.B) {
	s, err := Open(b.TempDir()+"/h.db", Options{Location: time.UTC})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		ts := t0.Add(time.Duration(i) * time.Second)
		i++
		if err := s.Append([]sensors.Field{
			sample("room", "Temperature", 21, ts), sample("room", "Humidity", 45, ts),
			sample("room", "Pressure", 1013, ts), sample("water", "Temperature", 18, ts),
		}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkQueryHour measures reading an hour of 1 Hz samples from a day.
func BenchmarkQueryHour(b *testing.B) {
	s, err := Open(b.TempDir()+"/h.db", Options{Location: time.UTC})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	batch := make([]sensors.Field, 0, 3600)
	for i := range 86400 {
		batch = append(batch, sample("room", "Temperature", float64(i), t0.Add(time.Duration(i)*time.Second)))
		if len(batch) == cap(batch) {
			if err := s.Append(batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		got, err := s.Query(ctx, nil, nil, t0.Add(12*time.Hour), t0.Add(13*time.Hour-time.Second))
		if err != nil || len(got) != 3600 {
			b.Fatalf("%d samples, %v", len(got), err)
		}
	}
}
