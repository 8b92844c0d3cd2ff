package history

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/xiot/xiot/sensors"
)

// Periods are the historical field types Aggregate accepts, finest first.
var Periods = []sensors.ReadoutType{
	sensors.HistoricalSecond, sensors.HistoricalMinute, sensors.HistoricalHour,
	sensors.HistoricalDay, sensors.HistoricalWeek, sensors.HistoricalMonth,
	sensors.HistoricalQuarter, sensors.HistoricalYear,
}

// PeriodStart returns the start of the calendar period of type period
// holding t, in loc, as XEP-0323 defines the shifts: seconds, minutes,
// hours, days at midnight, weeks on Monday, months on the 1st, quarters
// in January, April, July and October, years on 1 January. ok is false
// for a type that is not one of Periods.
func PeriodStart(period sensors.ReadoutType, t time.Time, loc *time.Location) (time.Time, bool) {
	t = t.In(loc)
	y, m, d := t.Date()
	h, mi, s := t.Clock()
	switch period {
	case sensors.HistoricalSecond:
		return time.Date(y, m, d, h, mi, s, 0, loc), true
	case sensors.HistoricalMinute:
		return time.Date(y, m, d, h, mi, 0, 0, loc), true
	case sensors.HistoricalHour:
		return time.Date(y, m, d, h, 0, 0, 0, loc), true
	case sensors.HistoricalDay:
		return time.Date(y, m, d, 0, 0, 0, 0, loc), true
	case sensors.HistoricalWeek:
		back := (int(t.Weekday()) + 6) % 7 // days since Monday
		return time.Date(y, m, d-back, 0, 0, 0, 0, loc), true
	case sensors.HistoricalMonth:
		return time.Date(y, m, 1, 0, 0, 0, 0, loc), true
	case sensors.HistoricalQuarter:
		return time.Date(y, (m-1)/3*3+1, 1, 0, 0, 0, 0, loc), true
	case sensors.HistoricalYear:
		return time.Date(y, 1, 1, 0, 0, 0, 0, loc), true
	}
	return time.Time{}, false
}

// bucket accumulates one series over one period.
type bucket struct {
	start         time.Time
	n             int
	sum, min, max float64
	qos           sensors.QoS
	last          sensors.Field // the latest sample, for its presentation
	numeric       bool
}

func (b *bucket) add(f sensors.Field) {
	b.qos |= f.QoS
	b.last = f
	x, ok := f.Value.Float()
	b.numeric = f.Value.Kind() == sensors.KindNumeric && ok && !math.IsNaN(x)
	if !b.numeric {
		return
	}
	if b.n == 0 || x < b.min {
		b.min = x
	}
	if b.n == 0 || x > b.max {
		b.max = x
	}
	b.sum += x
	b.n++
}

// fields returns the aggregate of the bucket: for numeric samples the
// mean under the series name and the extremes as "Name, Min" and
// "Name, Max" (also of type peak, as in XEP-0323's examples); for other
// kinds the latest value. All are stamped with the period start.
func (b *bucket) fields(period sensors.ReadoutType) []sensors.Field {
	f := b.last
	f.Timestamp, f.Types, f.QoS = b.start, period, b.qos
	if f.QoS == 0 {
		f.QoS = sensors.QoSAutomaticReadout
	}
	if !b.numeric || b.n == 0 {
		return []sensors.Field{f}
	}
	mean, lo, hi := f, f, f
	mean.Value = sensors.Numeric(b.sum / float64(b.n))
	lo.Name, lo.Value, lo.Types = f.Name+MinSuffix, sensors.Numeric(b.min), period|sensors.Peak
	hi.Name, hi.Value, hi.Types = f.Name+MaxSuffix, sensors.Numeric(b.max), period|sensors.Peak
	return []sensors.Field{mean, lo, hi}
}

// Suffixes of the extremes Aggregate reports beside the mean.
const (
	MinSuffix = ", Min"
	MaxSuffix = ", Max"
)

// Aggregate returns one set of fields per calendar period of type period
// (one of Periods) and series (selected by nodes and fields, empty selects
// all; "Name, Min" and "Name, Max" select those aggregates of Name) from
// the samples taken from from to to (both included, zero bounds open):
// for numeric series the mean, "Name, Min" and "Name, Max", otherwise the
// latest value, stamped with the period start and ordered by time. Every
// timestamp lies in the range: a period starting before from is left out,
// and the period holding to counts only the samples up to to.
func (s *Store) Aggregate(ctx context.Context, period sensors.ReadoutType, nodes, fields []string, from, to time.Time) ([]sensors.Field, error) {
	if _, ok := PeriodStart(period, time.Time{}, time.UTC); !ok {
		return nil, fmt.Errorf("history: aggregate: %v is not one historical period", period)
	}
	series := fields
	if len(fields) > 0 {
		series = nil
		for _, f := range fields {
			base := strings.TrimSuffix(strings.TrimSuffix(f, MinSuffix), MaxSuffix)
			if !slices.Contains(series, base) {
				series = append(series, base)
			}
		}
	}
	var out []sensors.Field
	var cur *bucket
	var curSeries string
	flush := func() {
		if cur == nil {
			return
		}
		if from.IsZero() || !cur.start.Before(from) {
			for _, f := range cur.fields(period) {
				if len(fields) == 0 || slices.Contains(fields, f.Name) {
					out = append(out, f)
				}
			}
		}
		cur = nil
	}
	err := s.scan(ctx, nodes, series, from, to, func(f sensors.Field) error {
		start, _ := PeriodStart(period, f.Timestamp, s.opts.Location)
		series := f.Node + "\x00" + f.Name
		if cur == nil || series != curSeries || !start.Equal(cur.start) || f.Value.Kind() != cur.last.Value.Kind() {
			flush()
			cur, curSeries = &bucket{start: start}, series
		}
		cur.add(f)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("history: aggregate %s: %w", s.db.Path(), err)
	}
	flush()
	sortFields(out)
	return out, nil
}

// Historical answers a XEP-0323 request for the historical types in types
// (other bits are ignored): the aggregates of every requested period, and
// for historicalOther the raw samples marked historicalOther, in time
// order.
func (s *Store) Historical(ctx context.Context, types sensors.ReadoutType, nodes, fields []string, from, to time.Time) ([]sensors.Field, error) {
	var out []sensors.Field
	for _, p := range Periods {
		if !types.Has(p) {
			continue
		}
		fs, err := s.Aggregate(ctx, p, nodes, fields, from, to)
		if err != nil {
			return nil, err
		}
		out = append(out, fs...)
	}
	if types.Has(sensors.HistoricalOther) {
		fs, err := s.Query(ctx, nodes, fields, from, to)
		if err != nil {
			return nil, err
		}
		for i := range fs {
			fs[i].Types = sensors.HistoricalOther
		}
		out = append(out, fs...)
	}
	sortFields(out)
	return out, nil
}
