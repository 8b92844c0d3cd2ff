package control

import (
	"time"

	"github.com/xiot/xiot/boards/sim"
	"github.com/xiot/xiot/internal/config"
)

// SimConfig returns the outputs of the simulated board, for an agent run
// with --board sim and no outputs section: the thermostat's relay
// ("Relay", on sim.RelayPin) and its setpoint ("Setpoint", 5..30 °C),
// named like the fields the board's thermostat sensor reports, and the
// hooks that carry the setpoint to the board. It also installs a Heater
// model (3 °C, 5 min time constant) as the board's heat hook, so the relay
// visibly warms the simulated room. Build the points with
// Points(outs, BoardPins(b.Pin), hooks).
func SimConfig(b *sim.Board) ([]config.Output, map[string]func(Value)) {
	b.SetHeatHook((&Heater{Gain: 3, Tau: 5 * time.Minute}).Hook)
	outs := []config.Output{
		{Name: "Relay", Node: sim.NodeThermostat, Kind: config.OutputRelay, Pin: sim.RelayPin,
			Label: "Heater relay", Description: "Switches the simulated heater.", MinOn: 10 * time.Second, MinOff: 10 * time.Second},
		{Name: "Setpoint", Node: sim.NodeThermostat, Kind: config.OutputVirtual, Type: "double",
			Label: "Setpoint (°C)", Description: "Room temperature setpoint.", Min: "5", Max: "30", Initial: "21"},
	}
	hooks := map[string]func(Value){
		Key(sim.NodeThermostat, "Setpoint"): func(v Value) {
			if f, ok := v.AsFloat(); ok {
				b.SetSetpoint(f)
			}
		},
	}
	return outs, hooks
}
