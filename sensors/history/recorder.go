package history

import (
	"context"
	"errors"
	"log/slog"
	"sync"
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

// Serving is implemented by sensors that say which readout types their
// node serves, like *sensors.Configured: the Recorder skips those that
// serve no historical type.
type Serving interface {
	Serves() sensors.ReadoutType
}

// Sampler is implemented by sensors that can read every field whatever
// their node serves, like *sensors.Configured; the Recorder prefers
// Sample to Read.
type Sampler interface {
	Sample(ctx context.Context) ([]sensors.Field, error)
}

// Recorder polls sensors at their intervals and appends what they read to
// a store, then prunes it; run it with Run. Each sensor is polled by its
// own goroutine, so a slow one (a DS18B20 converting for 750 ms, an SCD4x
// waiting for its 5 s cycle) delays no other; one goroutine appends what
// they read, batching what arrives together. Sensors are read for their
// own (non-historical) field types; a failed read is logged and retried
// at the next interval.
type Recorder struct {
	// Store receives the samples.
	Store *Store
	// Sensors are polled; a sensor implementing Interval is polled at its
	// interval, the others at Default.
	Sensors []sensors.Sensor
	// Default is the interval of sensors without one; 0 means 1 minute.
	Default time.Duration
	// PruneEvery is how often Prune runs (first after the first append,
	// for a store that waited long for the device to restart); 0 means 1
	// hour.
	PruneEvery time.Duration
	// Clock is the time source; nil means the system clock.
	Clock Clock
	// Log receives read and write errors; nil means slog.Default().
	Log *slog.Logger
	// Polled, when set, is called after each poll of a sensor has been
	// handled, with the node, the time of the poll and the number of
	// samples appended (0 after a failed read or append). For tests and
	// metrics; it must not block.
	Polled func(node string, at time.Time, samples int)
}

// poll is the outcome of one read of one sensor.
type poll struct {
	node   string
	at     time.Time
	fields []sensors.Field
}

// Run polls until ctx is done, then returns ctx.Err() once every poller
// has stopped. All sensors are read when Run starts, then each at its
// interval after its previous due time (rounds missed while a read was
// slow are skipped). A failing Append is logged; its samples are lost but
// the recorder keeps going (the error says why, e.g. a full disk).
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

	polls := make(chan poll)
	var wg sync.WaitGroup
	for _, s := range r.Sensors {
		if sv, ok := s.(Serving); ok && !sv.Serves().Intersects(sensors.Historical) {
			continue
		}
		iv := def
		if si, ok := s.(Interval); ok && si.Interval() > 0 {
			iv = si.Interval()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.pollLoop(ctx, clk, log, s, iv, polls)
		}()
	}
	defer wg.Wait()

	var lastPrune time.Time // zero: prune after the first append
	for {
		var batch []poll
		select {
		case <-ctx.Done():
			return ctx.Err()
		case p := <-polls:
			batch = append(batch, p)
		}
		// Take whatever else is ready, to append it in one transaction.
	drain:
		for {
			select {
			case p := <-polls:
				batch = append(batch, p)
			default:
				break drain
			}
		}
		var fields []sensors.Field
		for _, p := range batch {
			fields = append(fields, p.fields...)
		}
		err := r.Store.Append(fields)
		if err != nil {
			log.Error("history: samples lost", "samples", len(fields), "err", err)
		}
		now := clk.Now()
		if lastPrune.IsZero() || now.Sub(lastPrune) >= pruneEvery {
			lastPrune = now
			if n, err := r.Store.Prune(now); err != nil {
				log.Error("history: prune failed", "err", err)
			} else if n > 0 {
				log.Debug("history: pruned", "samples", n)
			}
		}
		if r.Polled != nil {
			for _, p := range batch {
				n := len(p.fields)
				if err != nil {
					n = 0
				}
				r.Polled(p.node, p.at, n)
			}
		}
	}
}

// pollLoop reads s every iv and sends what it read until ctx is done.
func (r *Recorder) pollLoop(ctx context.Context, clk Clock, log *slog.Logger, s sensors.Sensor, iv time.Duration, out chan<- poll) {
	next := clk.Now()
	for {
		at := clk.Now()
		for !next.After(at) {
			next = next.Add(iv)
		}
		p := poll{node: s.Node(), at: at}
		var fields []sensors.Field
		var err error
		if sp, ok := s.(Sampler); ok {
			fields, err = sp.Sample(ctx)
		} else {
			fields, err = s.Read(ctx, sensors.AllTypes&^sensors.Historical)
		}
		if err != nil && ctx.Err() == nil {
			log.Warn("history: read failed", "node", s.Node(), "sensor", s.String(), "err", err)
		}
		for _, f := range fields {
			if f.Types&^sensors.Historical == 0 {
				continue
			}
			if err := checkField(f); err != nil {
				log.Warn("history: sample not stored", "node", s.Node(), "err", err)
				continue
			}
			p.fields = append(p.fields, f)
		}
		select {
		case <-ctx.Done():
			return
		case out <- p:
		}
		select {
		case <-ctx.Done():
			return
		case <-clk.After(next.Sub(clk.Now())):
		}
	}
}
