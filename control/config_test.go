package control

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/xiot/xiot/boards/sim"
	"github.com/xiot/xiot/internal/config"
)

func TestPointsFromConfig(t *testing.T) {
	board := sim.New(nil)
	outs := []config.Output{
		{Name: "Heater", Kind: config.OutputRelay, Pin: sim.RelayPin, MinOn: time.Minute},
		{Name: "Setpoint", Node: "thermostat", Kind: config.OutputVirtual, Type: "double", Min: "5", Max: "30", Initial: "21"},
		{Name: "Mode", Kind: config.OutputVirtual, Type: "string", Options: []string{"auto", "manual"}, Initial: "auto"},
	}
	var got float64
	pts, err := Points(outs, BoardPins(board.Pin), map[string]func(Value){"thermostat/Setpoint": func(v Value) { got, _ = v.AsFloat() }})
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(pts, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got != 21 {
		t.Errorf("setpoint hook got %v at boot, want 21", got)
	}
	if v, _ := c.Get("", "Heater"); !v.Equal(Bool(false)) || board.Relay() {
		t.Errorf("relay default failsafe: %v, pin %v", v, board.Pin(sim.RelayPin).Read())
	}
	if p, _ := c.Lookup("thermostat", "Setpoint"); !p.Max.Equal(Double(30)) {
		t.Errorf("setpoint param %+v", p)
	}
	if board.Pin(sim.RelayPin).Read() != gpio.Low {
		t.Error("relay not low at boot")
	}
	bad := [][]config.Output{
		{{Name: "R", Kind: config.OutputRelay, Pin: "NOPE"}},
		{{Name: "V", Kind: config.OutputVirtual, Type: "int", Initial: "x"}},
		{{Name: "V", Kind: config.OutputVirtual, Type: "time", Initial: "08:00:00", Max: "25:00:00"}},
	}
	for i, b := range bad {
		if _, err := Points(b, BoardPins(board.Pin), nil); err == nil {
			t.Errorf("case %d accepted", i)
		}
	}
}

func TestSimConfig(t *testing.T) {
	clk := newClock()
	board := sim.New(clk.Now)
	outs, hooks := SimConfig(board)
	pts, err := Points(outs, BoardPins(board.Pin), hooks)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(pts, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	reference := sim.New(clk.Now)
	board.At(clk.Now())
	clk.Add(time.Minute)
	if err := c.Set(t.Context(), Request{Changes: []Change{{Node: sim.NodeThermostat, Name: "Relay", Value: Bool(true)}, {Node: sim.NodeThermostat, Name: "Setpoint", Value: Double(23)}}}); err != nil {
		t.Fatal(err)
	}
	if !board.Relay() || board.Setpoint() != 23 {
		t.Fatalf("relay %v, setpoint %v", board.Relay(), board.Setpoint())
	}
	clk.Add(15 * time.Minute)
	if d := board.At(clk.Now()).Temperature - reference.At(clk.Now()).Temperature; d < 2.5 {
		t.Errorf("heater added only %.2f °C in 15 min", d)
	}
}

func TestFromConfig(t *testing.T) {
	board := sim.New(nil)
	cfg := config.Default()
	cfg.StateDir = filepath.Join(t.TempDir(), "state", "xiot")
	cfg.Outputs, _ = SimConfig(board)
	c, err := FromConfig(cfg, BoardPins(board.Pin), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown()
	if len(c.Params()) != 2 {
		t.Errorf("params %v", c.Params())
	}
	if _, err := os.Stat(filepath.Join(cfg.StateDir, AuditFile)); err != nil {
		t.Errorf("audit log not in the state directory: %v", err)
	}
}
