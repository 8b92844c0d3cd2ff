package history

import (
	"context"
	"errors"
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
	}, board, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	s := openTemp(t, Options{})
	type round struct {
		at time.Time
		n  int
	}
	rounds := make(chan round, 1)
	rec := &Recorder{Store: s, Sensors: ss, Clock: clk, Polled: func(at time.Time, n int) { rounds <- round{at, n} }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rec.Run(ctx) }()

	// BME280: 3 fields every 10 s; DS18B20: 1 field every 30 s.
	want := []int{4, 3, 3, 4, 3, 3, 4}
	for i, w := range want {
		if i > 0 {
			clk.Advance(10 * time.Second)
		}
		select {
		case r := <-rounds:
			if r.n != w || !r.at.Equal(t0.Add(time.Duration(i)*10*time.Second)) {
				t.Errorf("round %d at %v appended %d samples, want %d at %v", i, r.at, r.n, w, t0.Add(time.Duration(i)*10*time.Second))
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d did not happen", i)
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
