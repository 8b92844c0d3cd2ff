package config

import (
	"strings"
	"testing"
	"time"
)

func TestOutputsDecode(t *testing.T) {
	c, err := Decode("xiot.yaml", []byte(`outputs:
  - name: Heater
    kind: relay
    pin: RELAY
    active_low: true
    grace: 30s
    min_on: 1m
    min_off: 2m
    max_switches: 6
    switch_window: 1h
  - name: Setpoint
    node: thermostat
    kind: virtual
    type: double
    min: "5"
    max: "30"
    initial: "21"
  - name: Fan
    kind: pwm
    pin: GPIO18
    frequency: 25000
    failsafe: "100"
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Outputs) != 3 {
		t.Fatalf("%d outputs", len(c.Outputs))
	}
	h := c.Outputs[0]
	if !h.ActiveLow || h.Grace != 30*time.Second || h.MinOff != 2*time.Minute || h.MaxSwitches != 6 || h.ParamType() != "boolean" {
		t.Errorf("heater: %+v", h)
	}
	if c.Outputs[1].Min != "5" || c.Outputs[2].Frequency != 25000 || c.Outputs[2].ParamType() != "double" {
		t.Errorf("outputs: %+v", c.Outputs)
	}
}

func TestOutputsCheck(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"no name", "  - kind: relay\n    pin: X\n", "outputs[0].name: required"},
		{"bad kind", "  - name: A\n    kind: servo\n", "outputs[0].kind: must be relay, pwm or virtual"},
		{"relay no pin", "  - name: A\n    kind: relay\n", "outputs[0].pin: required"},
		{"relay as int", "  - name: A\n    kind: relay\n    pin: X\n    type: int\n", "outputs[0].type: a relay output is a boolean parameter"},
		{"virtual no type", "  - name: A\n    kind: virtual\n    initial: \"1\"\n", "outputs[0].type: required"},
		{"virtual no initial", "  - name: A\n    kind: virtual\n    type: int\n", "outputs[0].initial: a virtual output needs"},
		{"bad bound", "  - name: A\n    kind: virtual\n    type: int\n    initial: \"1\"\n    max: lots\n", `outputs[0].max: "lots" is not a valid int`},
		{"bad failsafe", "  - name: A\n    kind: relay\n    pin: X\n    failsafe: off\n", `outputs[0].failsafe: "off" is not a boolean`},
		{"duplicate", "  - name: A\n    kind: relay\n    pin: X\n  - name: A\n    kind: relay\n    pin: Y\n", "outputs[1].name: \"A\" on node \"\" is also outputs[0]"},
		{"rate half set", "  - name: A\n    kind: relay\n    pin: X\n    max_switches: 3\n", "outputs[0].max_switches: set both"},
		{"min_on on pwm", "  - name: A\n    kind: pwm\n    pin: X\n    min_on: 1m\n", "outputs[0].min_on: minimum on/off times apply to boolean"},
		{"unknown type", "  - name: A\n    kind: virtual\n    type: enum\n    initial: x\n", "outputs[0].type: must be one of"},
	}
	for _, tt := range tests {
		_, err := Decode("xiot.yaml", []byte("outputs:\n"+tt.yaml))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want %q", tt.name, err, tt.want)
		}
	}
}
