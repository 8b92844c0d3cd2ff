package history

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/xiot/xiot/boards/sim"
	"github.com/xiot/xiot/internal/config"
	"github.com/xiot/xiot/sensors"
)

// fakeClock is a Clock moved by Advance only.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, waiter{c.now.Add(d), ch})
	return ch
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			kept = append(kept, w)
			continue
		}
		w.ch <- c.now
	}
	c.waiters = kept
}

// TestRecorder polls the sim board's BME280 every 10 s and its DS18B20
// every 30 s for a minute of fake time.
func TestRecorder(t *testing.T) {
	clk := &fakeClock{now: t0}
	board := sim.New(clk.Now)
	ss, err := sensors.Open([]config.Sensor{
		{Driver: config.DriverBME280, Node: "room", Address: "0x76", Interval: 10 * time.Second},
		{Driver: config.DriverDS18B20, Node: "water", Address: "28-000005a1b2c3", Interval: 30 * time.Second, Options: map[string]string{"conversion": "1ms"}},
		// Serves no historical type: never polled (an unexpected poll
		// fails the test below).
		{Driver: config.DriverBH1750, Node: "light", Interval: 10 * time.Second, Types: []string{"momentary"}},
	}, board, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	s := openTemp(t, Options{})
	type polled struct {
		node string
		at   time.Duration
		n    int
	}
	polls := make(chan polled, 4)
	rec := &Recorder{Store: s, Sensors: ss, Clock: clk, Polled: func(node string, at time.Time, n int) {
		polls <- polled{node, at.Sub(t0), n}
	}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rec.Run(ctx) }()

	// BME280 "room": 3 fields every 10 s; DS18B20 "water": 1 every 30 s.
	for step := range 7 {
		if step > 0 {
			clk.Advance(10 * time.Second)
		}
		at := time.Duration(step) * 10 * time.Second
		want := map[polled]bool{{"room", at, 3}: true}
		if step%3 == 0 {
			want[polled{"water", at, 1}] = true
		}
		for len(want) > 0 {
			select {
			case p := <-polls:
				if !want[p] {
					t.Fatalf("at %v: unexpected poll %+v (want %v)", at, p, want)
				}
				delete(want, p)
			case <-time.After(10 * time.Second):
				t.Fatalf("at %v: polls %v did not happen", at, want)
			}
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v", err)
	}
	got, err := s.Query(context.Background(), []string{"water"}, nil, time.Time{}, time.Time{})
	if err != nil || len(got) != 3 {
		t.Fatalf("water samples %v, %v", got, err)
	}
	// The samples carry the board's values at the fake times.
	for i, f := range got {
		ts := t0.Add(time.Duration(i) * 30 * time.Second)
		v, _ := f.Value.Float()
		if w := board.At(ts).Water; !f.Timestamp.Equal(ts) || v < w-0.07 || v > w+0.07 {
			t.Errorf("sample %v, want %.3f at %v", f, w, ts)
		}
	}
	st, _ := s.Stats()
	if st.Samples != 24 || st.Series != 4 {
		t.Errorf("stored %+v, want 24 samples in 4 series", st)
	}
	for _, x := range ss {
		x.Halt()
	}
}

func TestRecorderWithoutStore(t *testing.T) {
	if err := (&Recorder{}).Run(context.Background()); err == nil {
		t.Error("Run without a store succeeded")
	}
}

// TestRecorderReadFailure: a sensor that stops answering is logged and
// polled again at its next interval, when it answers again.
func TestRecorderReadFailure(t *testing.T) {
	clk := &fakeClock{now: t0}
	board := sim.New(clk.Now)
	ss, err := sensors.Open([]config.Sensor{{Driver: config.DriverBME280, Node: "room", Interval: 5 * time.Second}}, board, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer ss[0].Halt()
	s := openTemp(t, Options{})
	polls := make(chan int, 1)
	rec := &Recorder{
		Store: s, Sensors: ss, Clock: clk, Log: slog.New(slog.DiscardHandler),
		Polled: func(_ string, _ time.Time, n int) { polls <- n },
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go rec.Run(ctx)
	wait := func(want int) {
		t.Helper()
		select {
		case n := <-polls:
			if n != want {
				t.Errorf("poll stored %d samples, want %d", n, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no poll")
		}
	}
	wait(3)
	board.SetSilent(sim.BME280Addr, true)
	clk.Advance(5 * time.Second)
	wait(0)
	board.SetSilent(sim.BME280Addr, false)
	clk.Advance(5 * time.Second)
	wait(3)
	if st, _ := s.Stats(); st.Samples != 6 {
		t.Errorf("stored %d samples, want 6", st.Samples)
	}
}
