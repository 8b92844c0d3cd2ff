package control

import (
	"testing"

	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"
)

// expanderTraffic is the I²C traffic of TestExpanderOutputs, step by step,
// as the PCA9685, MCP23017 and PCF8574 datasheets define their registers.
var expanderTraffic = [][]i2ctest.IO{
	// Opening the PCA9685 at 0x40: all channels off (ALL_LED at 0xFA),
	// MODE2 totem-pole, MODE1 all-call, wake up with auto-increment, then
	// 50 Hz: sleep, PRESCALE (0xFE) 122, restore, restart.
	{
		{Addr: 0x40, W: []byte{0xfa, 0x0, 0x0, 0x0, 0x0}},
		{Addr: 0x40, W: []byte{0x1, 0x4}},
		{Addr: 0x40, W: []byte{0x0, 0x1}},
		{Addr: 0x40, W: []byte{0x0}, R: []byte{0x1}},
		{Addr: 0x40, W: []byte{0x0, 0x21}},
		{Addr: 0x40, W: []byte{0x0}, R: []byte{0x21}},
		{Addr: 0x40, W: []byte{0x0, 0x31}},
		{Addr: 0x40, W: []byte{0xfe, 0x7a}},
		{Addr: 0x40, W: []byte{0x0, 0x21}},
		{Addr: 0x40, W: []byte{0x0, 0xa1}},
		// Opening the MCP23017 at 0x20: IODIRA and IODIRB read (all inputs).
		{Addr: 0x20, W: []byte{0x0}, R: []byte{0xff}},
		{Addr: 0x20, W: []byte{0x1}, R: []byte{0xff}},
	},
	// Boot, failsafe everywhere: PCA9685 channels 2 (dimmer) and 3 (relay)
	// FULL_OFF (bit 4 of LEDn_OFF_H at 0x09+4n), MCP23017 GPB1 made an
	// output (IODIRB 0xfd) and driven low (OLATB read, already 0). The
	// PCF8574's port is already low for pin 4: no traffic.
	{
		{Addr: 0x40, W: []byte{0x11, 0x10}},
		{Addr: 0x40, W: []byte{0x15, 0x10}},
		{Addr: 0x20, W: []byte{0x1, 0xfd}},
		{Addr: 0x20, W: []byte{0x15}, R: []byte{0x0}},
	},
	// Relay on PCA9685 channel 3: FULL_ON in LED3_ON_H (0x13), OFF_H cleared.
	{{Addr: 0x40, W: []byte{0x13, 0x10, 0x0, 0x0}}},
	// Dimmer at 50 %: LED2 (0x0E) on at 0, off at 2048 of 4096.
	{{Addr: 0x40, W: []byte{0xe, 0x0, 0x0, 0x0, 0x8}}},
	// MCP23017 pin 9 (GPB1) high: OLATB (0x15) bit 1.
	{{Addr: 0x20, W: []byte{0x15, 0x2}}},
	// PCF8574 at 0x21, pin 4 high: the port byte.
	{{Addr: 0x21, W: []byte{0x10}}},
}

func TestExpanderOutputs(t *testing.T) {
	traffic := expanderTraffic
	var ops []i2ctest.IO
	for _, step := range traffic {
		ops = append(ops, step...)
	}
	bus := &i2ctest.Playback{Ops: ops, DontPanic: true}
	done := 0
	step := func(what string) {
		t.Helper()
		done += len(traffic[0])
		traffic = traffic[1:]
		if bus.Count != done {
			t.Fatalf("%s: %d I²C operations so far, want %d", what, bus.Count, done)
		}
	}
	exp := NewExpanders(bus, nil)
	point := func(pin string, pwm bool) Point {
		p, err := exp.Lookup(pin)
		if err != nil {
			t.Fatal(err)
		}
		if pwm {
			out, _ := NewPWM(p, 0, false)
			return Point{Param: Param{Name: "Dim", Type: TypeDouble, Min: Double(0), Max: Double(100)}, Output: out, Safety: Safety{Failsafe: Double(0)}}
		}
		out, _ := NewRelay(p, false)
		return Point{Param: Param{Name: pin, Type: TypeBoolean}, Output: out, Safety: Safety{Failsafe: Bool(false)}}
	}
	pts := []Point{point("pca9685@0x40:2", true), point("pca9685@0x40:3", false), point("mcp23017@0x20:9", false), point("pcf8574@0x21:4", false)}
	step("opening the chips")
	c, err := New(pts, Options{})
	if err != nil {
		t.Fatal(err)
	}
	step("boot")
	for _, s := range []struct {
		name string
		v    Value
	}{{"pca9685@0x40:3", Bool(true)}, {"Dim", Double(50)}, {"mcp23017@0x20:9", Bool(true)}, {"pcf8574@0x21:4", Bool(true)}} {
		if err := set(t, c, s.name, s.v); err != nil {
			t.Fatal(err)
		}
		step(s.name + "=" + s.v.String())
	}
	if err := bus.Close(); err != nil {
		t.Error(err)
	}
	if p, err := exp.Lookup("pca9685@0x40:3"); err != nil || p.(*pcaPin).freq != 50*physic.Hertz {
		t.Errorf("pin cache: %v %v", p, err)
	}
	for _, bad := range []string{"pca9685@0x40", "pca9685@0x40:16", "mcp23017@0x20:16", "foo@0x20:1", "pcf8574@0x22:1x", "GPIO17"} {
		if _, err := exp.Lookup(bad); err == nil {
			t.Errorf("Lookup(%q) succeeded", bad)
		}
	}
}
