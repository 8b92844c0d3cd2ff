package control

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/physic"

	"github.com/xiot/xiot/boards/sim"
)

// clock is a settable clock for tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func relayPoint(t *testing.T, pin gpio.PinOut, activeLow bool, s Safety) Point {
	t.Helper()
	r, err := NewRelay(pin, activeLow)
	if err != nil {
		t.Fatal(err)
	}
	if s.Failsafe.IsZero() {
		s.Failsafe = Bool(false)
	}
	return Point{Param: Param{Name: "Heater", Type: TypeBoolean}, Output: r, Safety: s}
}

func set(t *testing.T, c *Controller, name string, v Value) error {
	t.Helper()
	return c.Set(context.Background(), Request{From: "op@example.org/x", Via: "test", Changes: []Change{{Name: name, Value: v}}})
}

func TestRelayLevels(t *testing.T) {
	for _, activeLow := range []bool{false, true} {
		pin := &gpiotest.Pin{N: "GPIO17"}
		c, err := New([]Point{relayPoint(t, pin, activeLow, Safety{})}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		off, on := gpio.Low, gpio.High
		if activeLow {
			off, on = on, off
		}
		if got := pin.Read(); got != off {
			t.Errorf("activeLow=%v: level at boot %v, want %v (failsafe off)", activeLow, got, off)
		}
		if err := set(t, c, "Heater", Bool(true)); err != nil {
			t.Fatal(err)
		}
		if got := pin.Read(); got != on {
			t.Errorf("activeLow=%v: level after on %v, want %v", activeLow, got, on)
		}
		if err := c.Shutdown(); err != nil {
			t.Fatal(err)
		}
		if got := pin.Read(); got != off {
			t.Errorf("activeLow=%v: level after shutdown %v, want %v", activeLow, got, off)
		}
	}
}

func TestPWMDuty(t *testing.T) {
	pin := &gpiotest.Pin{N: "PWM0"}
	out, err := NewPWM(pin, 25*physic.KiloHertz, false)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New([]Point{{
		Param:  Param{Name: "Fan", Type: TypeDouble, Min: Double(0), Max: Double(100)},
		Output: out, Safety: Safety{Failsafe: Double(100)},
	}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if pin.D != gpio.DutyMax || pin.F != 25*physic.KiloHertz {
		t.Errorf("boot: duty %v at %v, want 100%% at 25kHz", pin.D, pin.F)
	}
	for _, tt := range []struct {
		pct  float64
		want gpio.Duty
	}{{0, 0}, {50, gpio.DutyHalf}, {25, gpio.DutyMax / 4}} {
		if err := set(t, c, "Fan", Double(tt.pct)); err != nil {
			t.Fatal(err)
		}
		if pin.D != tt.want {
			t.Errorf("%v%%: duty %d, want %d", tt.pct, pin.D, tt.want)
		}
	}
	if err := set(t, c, "Fan", Double(101)); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("101%%: %v, want out of range", err)
	}
	if pin.D != gpio.DutyMax/4 {
		t.Errorf("refused set changed the duty to %v", pin.D)
	}
}

func TestSimHeaterWarmsRoom(t *testing.T) {
	clk := newClock()
	board := sim.New(clk.Now)
	heater := &Heater{Gain: 3, Tau: 2 * time.Minute}
	board.SetHeatHook(heater.Hook)
	setpoint := NewVirtual("Setpoint", TypeDouble, func(v Value) {
		f, _ := v.AsFloat()
		board.SetSetpoint(f)
	})
	c, err := New([]Point{
		relayPoint(t, board.Pin(sim.RelayPin), false, Safety{}),
		{Param: Param{Node: "", Name: "Setpoint", Type: TypeDouble, Min: Double(5), Max: Double(30)}, Output: setpoint, Initial: Double(sim.DefaultSetpoint)},
	}, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	// Temperature follows a sine; compare against the same instant with the
	// heater off to see the heater's contribution alone.
	reference := sim.New(clk.Now)
	board.At(clk.Now())
	if err := set(t, c, "Heater", Bool(true)); err != nil {
		t.Fatal(err)
	}
	if !board.Relay() {
		t.Fatal("relay pin not driven high")
	}
	clk.Add(10 * time.Minute)
	warm := board.At(clk.Now()).Temperature - reference.At(clk.Now()).Temperature
	if warm < 2.9 || warm > 3.01 {
		t.Errorf("after 10 min on: +%.3f °C, want about +3", warm)
	}
	if err := set(t, c, "Heater", Bool(false)); err != nil {
		t.Fatal(err)
	}
	clk.Add(10 * time.Minute)
	if d := board.At(clk.Now()).Temperature - reference.At(clk.Now()).Temperature; d > 0.1 {
		t.Errorf("after 10 min off: still +%.3f °C", d)
	}
	if err := set(t, c, "Setpoint", Double(22.5)); err != nil || board.Setpoint() != 22.5 {
		t.Errorf("setpoint: %v, board has %v", err, board.Setpoint())
	}
	if err := set(t, c, "Setpoint", Double(35)); !errors.Is(err, ErrOutOfRange) || board.Setpoint() != 22.5 {
		t.Errorf("setpoint 35: %v, board has %v", err, board.Setpoint())
	}
}

func TestSetIsAtomic(t *testing.T) {
	pin := &gpiotest.Pin{N: "R"}
	fan := NewVirtual("Fan", TypeInt, nil)
	c, err := New([]Point{
		relayPoint(t, pin, false, Safety{}),
		{Param: Param{Name: "Fan", Type: TypeInt, Min: Int(0), Max: Int(3)}, Output: fan, Initial: Int(0)},
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Set(context.Background(), Request{From: "a@b/c", Via: "test", Changes: []Change{
		{Name: "Heater", Value: Bool(true)},
		{Name: "Fan", Value: Int(9)},
		{Name: "Nope", Value: Int(1)},
		{Name: "Fan", Value: Bool(true)},
	}})
	var se *SetError
	if !errors.As(err, &se) || len(se.Problems) != 3 {
		t.Fatalf("got %v, want 3 problems", err)
	}
	for i, want := range []error{ErrOutOfRange, ErrUnknownParam, ErrWrongType} {
		if !errors.Is(se.Problems[i].Err, want) {
			t.Errorf("problem %d: %v, want %v", i, se.Problems[i].Err, want)
		}
	}
	if pin.Read() != gpio.Low {
		t.Error("heater switched although the request was refused")
	}
	if v, _ := c.Get("", "Fan"); !v.Equal(Int(0)) {
		t.Errorf("fan %v", v)
	}
}

func TestFailsafeAfterGrace(t *testing.T) {
	clk := newClock()
	pin := &gpiotest.Pin{N: "R"}
	c, err := New([]Point{relayPoint(t, pin, false, Safety{Grace: 30 * time.Second})}, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := set(t, c, "Heater", Bool(true)); err != nil {
		t.Fatal(err)
	}
	c.Offline()
	clk.Add(29 * time.Second)
	if next := c.Tick(); pin.Read() != gpio.High || !next.Equal(clk.Now().Add(time.Second)) {
		t.Fatalf("within grace: level %v, next %v", pin.Read(), next)
	}
	// Back online in time: nothing happens.
	c.Online()
	clk.Add(time.Hour)
	c.Tick()
	if pin.Read() != gpio.High {
		t.Fatal("failsafe applied although the link came back within grace")
	}
	c.Offline()
	clk.Add(30 * time.Second)
	c.Tick()
	if pin.Read() != gpio.Low {
		t.Fatal("failsafe not applied after grace")
	}
	last := c.Audit().Recent()
	if e := last[len(last)-1]; e.Via != "failsafe" || !e.Accepted || e.Value != "false" {
		t.Errorf("audit: %+v", e)
	}
}

func TestOverrideRevertsAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	pin := &gpiotest.Pin{N: "R"}
	boot := func() *Controller {
		c, err := New([]Point{relayPoint(t, pin, false, Safety{})}, Options{Now: clk.Now, StateDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		c.Online()
		return c
	}
	c := boot()
	err := c.Set(context.Background(), Request{From: "dr@utility.example/p", Via: "iq", Override: 10 * time.Minute,
		Changes: []Change{{Name: "Heater", Value: Bool(true)}}})
	if err != nil || pin.Read() != gpio.High {
		t.Fatalf("override: %v, level %v", err, pin.Read())
	}
	clk.Add(4 * time.Minute)
	if err := c.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if pin.Read() != gpio.Low {
		t.Fatal("shutdown did not apply the failsafe")
	}
	clk.Add(time.Minute)
	c = boot()
	if pin.Read() != gpio.High {
		t.Fatal("override not restored after restart")
	}
	if next := c.Tick(); !next.Equal(clk.Now().Add(5 * time.Minute)) {
		t.Errorf("next action %v, want in 5 min", next.Sub(clk.Now()))
	}
	clk.Add(5 * time.Minute)
	c.Tick()
	if pin.Read() != gpio.Low {
		t.Fatal("override did not revert")
	}
	data, err := os.ReadFile(filepath.Join(dir, OverridesFile))
	if err != nil {
		t.Fatal(err)
	}
	if ovs, err := loadState(filepath.Join(dir, OverridesFile)); err != nil || len(ovs) != 0 {
		t.Errorf("state after revert: %s (%v)", data, err)
	}
	c.Shutdown()
	entries, err := ReadAudit(filepath.Join(dir, AuditFile))
	if err != nil {
		t.Fatal(err)
	}
	var vias []string
	for _, e := range entries {
		vias = append(vias, e.Via)
	}
	want := []string{"boot", "iq", "shutdown", "boot", "restore", "revert", "shutdown"}
	if len(vias) != len(want) {
		t.Fatalf("audit vias %v, want %v", vias, want)
	}
	for i := range want {
		if vias[i] != want[i] {
			t.Fatalf("audit vias %v, want %v", vias, want)
		}
	}
	if entries[1].From != "dr@utility.example/p" || entries[1].Override != "10m0s" {
		t.Errorf("audit of the override: %+v", entries[1])
	}
}

func TestOverrideExpiredWhileStopped(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	pin := &gpiotest.Pin{N: "R"}
	c, err := New([]Point{relayPoint(t, pin, false, Safety{})}, Options{Now: clk.Now, StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Set(context.Background(), Request{Via: "iq", Override: time.Minute, Changes: []Change{{Name: "Heater", Value: Bool(true)}}}); err != nil {
		t.Fatal(err)
	}
	c.Shutdown()
	clk.Add(2 * time.Minute)
	if _, err := New([]Point{relayPoint(t, pin, false, Safety{})}, Options{Now: clk.Now, StateDir: dir}); err != nil {
		t.Fatal(err)
	}
	if pin.Read() != gpio.Low {
		t.Error("expired override re-applied at boot")
	}
}

func TestMinOnOffUnderBurst(t *testing.T) {
	clk := newClock()
	pin := &gpiotest.Pin{N: "R"}
	c, err := New([]Point{relayPoint(t, pin, false, Safety{MinOn: time.Minute, MinOff: 2 * time.Minute})}, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(2 * time.Minute) // boot counts as a switch to off
	var changes int
	level := pin.Read()
	for i := range 100 {
		err := set(t, c, "Heater", Bool(i%2 == 0))
		if err != nil && !errors.Is(err, ErrInterlock) {
			t.Fatal(err)
		}
		if l := pin.Read(); l != level {
			changes++
			level = l
		}
		clk.Add(time.Second)
	}
	// 100 s of flapping: on at 0 s, off at 60 s (min on), never on again
	// before 180 s (min off).
	if changes != 2 {
		t.Errorf("%d switches in 100 s of flapping, want 2", changes)
	}
	refused := 0
	for _, e := range c.Audit().Recent() {
		if !e.Accepted && e.From != "" {
			refused++
		}
	}
	if refused == 0 {
		t.Error("no refusal in the audit log")
	}
}

func TestMaxSwitchRate(t *testing.T) {
	clk := newClock()
	pin := &gpiotest.Pin{N: "R"}
	c, err := New([]Point{relayPoint(t, pin, false, Safety{MaxSwitches: 3, SwitchWindow: time.Hour})}, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := set(t, c, "Heater", Bool(i%2 == 0)); err != nil {
			t.Fatalf("switch %d: %v", i, err)
		}
		clk.Add(time.Minute)
	}
	if err := set(t, c, "Heater", Bool(false)); !errors.Is(err, ErrInterlock) {
		t.Fatalf("4th switch in an hour: %v", err)
	}
	if err := set(t, c, "Heater", Bool(true)); err != nil {
		t.Fatalf("setting the current value is no switch: %v", err)
	}
	clk.Add(time.Hour)
	if err := set(t, c, "Heater", Bool(false)); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func TestRunRevertsOnRealClock(t *testing.T) {
	pin := &gpiotest.Pin{N: "R"}
	c, err := New([]Point{relayPoint(t, pin, false, Safety{})}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c.Online()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx)
	if err := c.Set(ctx, Request{Via: "test", Override: 50 * time.Millisecond, Changes: []Change{{Name: "Heater", Value: Bool(true)}}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for pin.Read() != gpio.Low {
		if time.Now().After(deadline) {
			t.Fatal("override did not revert within 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestNewRejects(t *testing.T) {
	pin := &gpiotest.Pin{N: "R"}
	r, _ := NewRelay(pin, false)
	bad := [][]Point{
		{{Param: Param{Name: "X", Type: TypeInt}, Output: r, Safety: Safety{Failsafe: Int(0)}}},
		{{Param: Param{Name: "X", Type: TypeBoolean}, Output: r}},
		{{Param: Param{Name: "X", Type: TypeBoolean}}},
		{relayPoint(t, pin, false, Safety{}), relayPoint(t, pin, false, Safety{})},
		{{Param: Param{Name: "S", Type: TypeInt, Max: Int(3)}, Output: NewVirtual("S", TypeInt, nil), Initial: Int(4)}},
	}
	for i, pts := range bad {
		if _, err := New(pts, Options{}); err == nil {
			t.Errorf("case %d: New accepted it", i)
		}
	}
}

func TestRevertWaitsForMinOn(t *testing.T) {
	clk := newClock()
	pin := &gpiotest.Pin{N: "R"}
	c, err := New([]Point{relayPoint(t, pin, false, Safety{MinOn: 10 * time.Minute})}, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	c.Online()
	start := clk.Now()
	if err := c.Set(context.Background(), Request{Via: "test", Override: time.Minute, Changes: []Change{{Name: "Heater", Value: Bool(true)}}}); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Minute)
	next := c.Tick()
	if pin.Read() != gpio.High {
		t.Fatal("override reverted inside the minimum on time")
	}
	if want := start.Add(10 * time.Minute); !next.Equal(want) {
		t.Errorf("revert rescheduled at +%v, want +10m", next.Sub(start))
	}
	clk.Add(9 * time.Minute)
	c.Tick()
	if pin.Read() != gpio.Low {
		t.Fatal("override did not revert once the minimum on time passed")
	}
}

func TestStartsOffline(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	pin := &gpiotest.Pin{N: "R"}
	c, err := New([]Point{relayPoint(t, pin, false, Safety{Grace: time.Minute})}, Options{Now: clk.Now, StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	c.Online()
	if err := c.Set(context.Background(), Request{Via: "iq", Override: time.Hour, Changes: []Change{{Name: "Heater", Value: Bool(true)}}}); err != nil {
		t.Fatal(err)
	}
	c.Shutdown()
	// The agent restarts but never gets a connection: the restored
	// override holds for the grace period, then the failsafe wins.
	c, err = New([]Point{relayPoint(t, pin, false, Safety{Grace: time.Minute})}, Options{Now: clk.Now, StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if pin.Read() != gpio.High {
		t.Fatal("override not restored")
	}
	clk.Add(time.Minute)
	c.Tick()
	if pin.Read() != gpio.Low {
		t.Fatal("restored override outlived the grace period without a connection")
	}
	if ovs, _ := loadState(filepath.Join(dir, OverridesFile)); len(ovs) != 0 {
		t.Errorf("failsafe left the override persisted: %+v", ovs)
	}
	// Outputs already at their failsafe value are not written again.
	n := len(c.Audit().Recent())
	clk.Add(time.Hour)
	c.Tick()
	if len(c.Audit().Recent()) != n {
		t.Errorf("idle failsafe logged %+v", c.Audit().Recent()[n:])
	}
}
