package config

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// exampleSensors returns the commented sensors section of example.yaml,
// uncommented.
func exampleSensors(t *testing.T) string {
	t.Helper()
	ex := ExampleYAML()
	i := strings.Index(ex, "# sensors:\n")
	if i < 0 {
		t.Fatal("example.yaml has no commented sensors section")
	}
	var b strings.Builder
	for _, line := range strings.Split(ex[i:], "\n") {
		if !strings.HasPrefix(line, "#") {
			break
		}
		b.WriteString(strings.TrimPrefix(strings.TrimPrefix(line, "#"), " ") + "\n")
	}
	return b.String()
}

func TestSensorsExample(t *testing.T) {
	c, err := Decode("x.yaml", []byte(exampleSensors(t)))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Sensors) != 4 {
		t.Fatalf("got %d sensors", len(c.Sensors))
	}
	s := c.Sensors[0]
	if s.Driver != DriverBME280 || s.Node != "room" || s.Address != "0x76" || s.Interval != 30*time.Second || s.Where() != "x.yaml:2" {
		t.Errorf("sensor 0 = %+v at %q", s, s.Where())
	}
	if d, ok := s.Fields["Pressure"].DecimalsOverride(); !ok || d != 1 {
		t.Errorf("Pressure decimals = %d, %v", d, ok)
	}
	if _, ok := s.Fields["Temperature"].DecimalsOverride(); ok {
		t.Error("unset decimals reported as set")
	}
	if a, err := ParseOneWireAddress(c.Sensors[1].Address); err != nil || a != 0x07000005a1b2c328 {
		t.Errorf("ROM code = %#x, %v", a, err)
	}
	if c.Sensors[2].Fields["Value"].Name != "Pressure" || c.Sensors[2].Options["scale"] != "0.5=0 4.5=10" {
		t.Errorf("sensor 2 = %+v", c.Sensors[2])
	}
	if got := c.Sensors[3].Types; len(got) != 3 || got[2] != "historical" {
		t.Errorf("types = %q", got)
	}
	if c.Sensors[0].PollInterval() != 30*time.Second || c.Sensors[1].PollInterval() != DefaultSensorInterval {
		t.Error("PollInterval")
	}
	// The section survives a round trip through String.
	c2, err := Decode("y.yaml", []byte(c.String()))
	if err != nil {
		t.Fatal(err)
	}
	if len(c2.Sensors) != 4 || c2.Sensors[2].Options["full_scale"] != "4.096" || c2.Sensors[0].Fields["Pressure"].Decimals != "1" {
		t.Errorf("round trip: %+v", c2.Sensors)
	}
}

func TestSensorsErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"no driver", "sensors:\n  - node: a\n", "x.yaml:2: sensors[0].driver: required setting missing"},
		{"unknown driver", "sensors:\n  - driver: bme820\n", `x.yaml:2: sensors[0].driver: unknown driver "bme820" (did you mean "bme280"?)`},
		{"bad i2c address", "sensors:\n  - driver: bh1750\n    address: 0x99\n", `x.yaml:3: sensors[0].address: not a 7-bit I²C address (0x03..0x77): "0x99"`},
		{"ds18b20 needs a ROM code", "sensors:\n  - driver: ds18b20\n", "x.yaml:2: sensors[0].address: required setting missing"},
		{"bad ROM code", "sensors:\n  - driver: ds18b20\n    address: 28-12\n", "x.yaml:3: sensors[0].address: not a 1-Wire ROM code"},
		{"bad CRC", "sensors:\n  - driver: ds18b20\n    address: \"0x08000005a1b2c328\"\n", "CRC byte is 0x08, want 0x07"},
		{"bridge on i2c chip", "sensors:\n  - driver: aht20\n    bridge: 0x18\n", "x.yaml:3: sensors[0].bridge: only a ds18b20"},
		{"pulse needs pin", "sensors:\n  - driver: pulse\n    options: {pulses_per_kwh: 1000}\n", "x.yaml:2: sensors[0].pin: required setting missing"},
		{"pulse needs constant", "sensors:\n  - driver: pulse\n    pin: P\n", "x.yaml:2: sensors[0].options.pulses_per_kwh: required setting missing"},
		{"short interval", "sensors:\n  - driver: bme280\n    interval: 10ms\n", "x.yaml:3: sensors[0].interval: must be 0 (default 1m0s) or at least 100ms"},
		{"bad type", "sensors:\n  - driver: bme280\n    types: [momentary, historicalHours]\n", `x.yaml:3: sensors[0].types[1]: unknown readout type "historicalHours" (did you mean "historicalHour"?)`},
		{"bad decimals", "sensors:\n  - driver: bme280\n    fields:\n      Temperature: {decimals: 16}\n", `x.yaml:4: sensors[0].fields.Temperature.decimals: must be an integer 0..15, not "16"`},
		{"unknown field key", "sensors:\n  - driver: bme280\n    fields:\n      Temperature: {unti: C}\n", `x.yaml:4: sensors[0].fields.Temperature.unti: unknown key (did you mean "unit"?)`},
		{"unknown option", "sensors:\n  - driver: ina219\n    options: {shunt_ohms: \"0.1\"}\n", `x.yaml:3: sensors[0].options.shunt_ohms: unknown key for driver ina219; known options: shunt, max_current`},
		{"bad option", "sensors:\n  - driver: ads1x15\n    options:\n      scale: \"0.5 4.5\"\n", `x.yaml:4: sensors[0].options.scale: scale must be two points`},
		{"bad input", "sensors:\n  - driver: ads1x15\n    options: {input: \"4\"}\n", `x.yaml:3: sensors[0].options.input: must be 0, 1, 2, 3`},
		{"duplicate node", "sensors:\n  - driver: bme280\n    node: a\n  - driver: aht20\n    node: a\n", `x.yaml:5: sensors[1].node: node "a" is also the node of sensors[0]`},
		{"not a list", "sensors: {driver: bme280}\n", "x.yaml:1: sensors: expected a list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode("x.yaml", []byte(tt.in))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q\nwant it to contain %q", err, tt.want)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("%v is not an *Error", err)
			}
		})
	}
}

func TestSensorValidate(t *testing.T) {
	if err := (Sensor{Driver: DriverBME280}).Validate(); err != nil {
		t.Error(err)
	}
	err := Sensor{Driver: DriverGPIO, Address: "0x20", Options: map[string]string{"pull": "sideways"}}.Validate()
	if err == nil || !strings.Contains(err.Error(), "pin: required") || !strings.Contains(err.Error(), "options.pull: must be up, down or float") {
		t.Errorf("Validate = %v", err)
	}
}

func TestParseScale(t *testing.T) {
	tests := []struct {
		in   string
		want [4]float64
		ok   bool
	}{
		{"0.5=0 4.5=10", [4]float64{0.5, 0, 4.5, 10}, true},
		{"0.5V=0, 4.5V=10", [4]float64{0.5, 0, 4.5, 10}, true},
		{"0=-40 3.3=125", [4]float64{0, -40, 3.3, 125}, true},
		{"1=1 1=2", [4]float64{}, false},
		{"1=1", [4]float64{}, false},
		{"a=1 2=3", [4]float64{}, false},
		{"NaN=1 2=3", [4]float64{}, false},
		{"0=1 Inf=3", [4]float64{}, false},
	}
	for _, tt := range tests {
		got, err := ParseScale(tt.in)
		if (err == nil) != tt.ok || (tt.ok && got != tt.want) {
			t.Errorf("ParseScale(%q) = %v, %v", tt.in, got, err)
		}
	}
}

func TestParseOneWireAddress(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		// The sim's DS18B20; its CRC 0x07 is what periph's onewire.CalcCRC gives.
		{"28-000005a1b2c3", 0x07000005a1b2c328, true},
		{"07000005a1b2c328", 0x07000005a1b2c328, true},
		{"0x07000005A1B2C328", 0x07000005a1b2c328, true},
		{"28-05a1b2c3", 0, false},
		{"x8-000005a1b2c3", 0, false},
		{"0x0700", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseOneWireAddress(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseOneWireAddress(%q) = %#x, %v", tt.in, got, err)
		}
	}
}

// FuzzSensorValues feeds arbitrary text to the parsers of the sensors
// section: they must not panic, and what they accept must be in range.
func FuzzSensorValues(f *testing.F) {
	for _, s := range []string{"0x76", "118", "28-000005a1b2c3", "07000005a1b2c328", "0.5=0 4.5=10", "0.5V=0,4.5V=10", "1e308=1 -1e308=2", "", "-", "="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if a, err := ParseI2CAddress(s); err == nil && (a < 3 || a > 0x77) {
			t.Errorf("ParseI2CAddress(%q) = %#x", s, a)
		}
		if a, err := ParseOneWireAddress(s); err == nil {
			var b [7]byte
			for i := range b {
				b[i] = byte(a >> (8 * i))
			}
			if byte(a>>56) != dallasCRC(b[:]) {
				t.Errorf("ParseOneWireAddress(%q) = %#x with a bad CRC", s, a)
			}
		}
		if p, err := ParseScale(s); err == nil && (p[0] == p[2] || math.IsInf(p[0], 0) || math.IsInf(p[2], 0)) {
			t.Errorf("ParseScale(%q) = %v: both inputs equal", s, p)
		}
		_ = Sensor{Driver: DriverADS1x15, Address: s, Options: map[string]string{"scale": s, "full_scale": s}}.Validate()
	})
}
