package history

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/xiot/xiot/sensors"
)

// Clock is the time source of a Recorder; tests inject a fake one.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// realClock is the system clock.
type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Interval is implemented by sensors that carry their own poll interval,
// like *sensors.Configured.
type Interval interface {
	Interval() time.Duration
}

// Recorder polls sensors at their intervals and appends what they read to
// a store, then prunes it; run it with Run. Sensors are read for their
// own (non-historical) field types; a failed read is logged and retried at
// the next interval.
type Recorder struct {
	// Store receives the samples.
	Store *Store
	// Sensors are polled; a sensor implementing Interval is polled at its
	// interval, the others at Default.
	Sensors []sensors.Sensor
	// Default is the interval of sensors without one; 0 means 1 minute.
	Default time.Duration
	// PruneEvery is how often Prune runs (first in the first round, for
	// a store that waited long for the device to restart); 0 means 1 hour.
	PruneEvery time.Duration
	// Clock is the time source; nil means the system clock.
	Clock Clock
	// Log receives read and write errors; nil means slog.Default().
	Log *slog.Logger
	// Polled, when set, is called after each round with the time and the
	// number of samples appended (for tests and metrics).
	Polled func(at time.Time, samples int)
}

// Run polls until ctx is done, then returns ctx.Err(). All sensors are
// read at once when Run starts, then each at its interval after its
// previous poll. A failing Append is logged; its samples are lost but the
// recorder keeps going (the store reports the cause, e.g. a full disk).
func (r *Recorder) Run(ctx context.Context) error {
	if r.Store == nil {
		return errors.New("history: recorder without a store")
	}
	clk := r.Clock
	if clk == nil {
		clk = realClock{}
	}
	log := r.Log
	if log == nil {
		log = slog.Default()
	}
	def := r.Default
	if def <= 0 {
		def = time.Minute
	}
	pruneEvery := r.PruneEvery
	if pruneEvery <= 0 {
		pruneEvery = time.Hour
	}
	start := clk.Now()
	next := make([]time.Time, len(r.Sensors))
	for i := range next {
		next[i] = start
	}
	var lastPrune time.Time // zero: prune in the first round
	for {
		now := clk.Now()
		var batch []sensors.Field
		for i, s := range r.Sensors {
			if now.Before(next[i]) {
				continue
			}
			iv := def
			if si, ok := s.(Interval); ok && si.Interval() > 0 {
				iv = si.Interval()
			}
			// Next poll one interval after the due time, skipping rounds
			// missed while a slow read or a suspended clock held us.
			for !next[i].After(now) {
				next[i] = next[i].Add(iv)
			}
			fields, err := s.Read(ctx, sensors.AllTypes&^sensors.Historical)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				log.Warn("history: read failed", "node", s.Node(), "sensor", s.String(), "err", err)
				continue
			}
			for _, f := range fields {
				if f.Types&^sensors.Historical == 0 {
					continue
				}
				if err := checkField(f); err != nil {
					log.Warn("history: sample not stored", "node", s.Node(), "err", err)
					continue
				}
				batch = append(batch, f)
			}
		}
		if err := r.Store.Append(batch); err != nil {
			log.Error("history: samples lost", "samples", len(batch), "err", err)
		}
		if lastPrune.IsZero() || now.Sub(lastPrune) >= pruneEvery {
			lastPrune = now
			if n, err := r.Store.Prune(now); err != nil {
				log.Error("history: prune failed", "err", err)
			} else if n > 0 {
				log.Debug("history: pruned", "samples", n)
			}
		}
		if r.Polled != nil {
			r.Polled(now, len(batch))
		}
		due := time.Time{}
		for _, t := range next {
			if due.IsZero() || t.Before(due) {
				due = t
			}
		}
		if due.IsZero() {
			<-ctx.Done()
			return ctx.Err()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-clk.After(due.Sub(clk.Now())):
		}
	}
}
