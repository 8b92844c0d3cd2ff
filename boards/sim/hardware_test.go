package sim

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/xiot/xiot/internal/config"
	"github.com/xiot/xiot/sensors"
)

// TestOpenSensorConfig opens every part of the board from its sensors
// configuration section and checks one value of each, with overrides.
func TestOpenSensorConfig(t *testing.T) {
	b, clk := newBoard()
	clk.Set(150 * time.Second)
	for i, c := range SensorConfig() {
		if err := c.Validate(); err != nil {
			t.Errorf("SensorConfig()[%d]: %v", i, err)
		}
	}
	ss, err := sensors.Open(SensorConfig(), b, b.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, s := range ss {
			if err := s.Halt(); err != nil {
				t.Error(err)
			}
		}
	}()
	c, a := b.At(clk.Now()), b.AmbientAt(clk.Now())
	want := map[string]struct {
		v, tol float64
		unit   string
	}{
		NodeBME280 + "/Temperature":  {c.Temperature, 0.01, "°C"},
		NodeDS18B20 + "/Temperature": {c.Water, 0.0625, "°C"},
		// The counter starts at 0: no initial reading is configured.
		NodeMeter + "/Energy":       {c.Energy - InitialEnergy, 0.002, "kWh"},
		NodeTank + "/Pressure":      {a.Tank, 0.01, "bar"},
		NodeSupply + "/Current":     {a.Load, 2e-4, "A"},
		NodeAir + "/Humidity":       {c.Humidity, 0.01, "%"},
		NodeAir2 + "/Temperature":   {c.Temperature, 3e-3, "°C"},
		NodeAir2 + "/Humidity":      {c.Humidity, 2e-3, "%"},
		NodeLight + "/Light":        {a.Light, 1.5, "lx"},
		NodeCO2 + "/CO2":            {a.CO2, 0.5, "ppm"},
		NodeWater2 + "/Temperature": {c.Water, 0.0625, "°C"},
		NodeTank + "/Voltage":       {TankVoltage(a.Tank), 2e-4, "V"},
		NodeSupply + "/Voltage":     {a.Supply, 4e-3, "V"},
		NodeCO2 + "/Temperature":    {c.Temperature, 3e-3, "°C"},
		NodeBME280 + "/Pressure":    {c.Pressure, 0.01, "hPa"},
		NodeAir + "/Temperature":    {c.Temperature, 1e-3, "°C"},
		NodeSupply + "/Power":       {a.Supply * a.Load, 5e-3, "W"},
		NodeMeter + "/Power":        {0, math.Inf(1), "W"},
		NodeBME280 + "/Humidity":    {c.Humidity, 0.1, "%"},
		NodeCO2 + "/Humidity":       {c.Humidity, 2e-3, "%"},
		NodeMeter + "/Pulses":       {0, math.Inf(1), ""},
	}
	seen := 0
	for _, s := range ss {
		cs, ok := s.(*sensors.Configured)
		if !ok {
			t.Fatalf("%T is not a *sensors.Configured", s)
		}
		if cs.Interval() != cs.Config().PollInterval() || !cs.Serves().Intersects(sensors.Historical) {
			t.Errorf("%s: interval %v, serves %v", s.Node(), cs.Interval(), cs.Serves())
		}
		fields, err := s.Read(context.Background(), 0)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if len(fields) != len(s.Fields()) {
			t.Errorf("%s: read %d fields, Fields() lists %d", s.Node(), len(fields), len(s.Fields()))
		}
		for _, f := range fields {
			key := f.Node + "/" + f.Name
			w, ok := want[key]
			if !ok {
				t.Errorf("unexpected field %s", f)
				continue
			}
			seen++
			v, _ := f.Value.Float()
			if f.Value.Kind() == sensors.KindLong {
				n, _ := f.Value.Integer()
				v = float64(n)
			}
			if math.Abs(v-w.v) > w.tol || f.Unit != w.unit {
				t.Errorf("%s = %v %s, want %v ± %v %s", key, v, f.Unit, w.v, w.tol, w.unit)
			}
			if err := f.Validate(); err != nil {
				t.Error(err)
			}
		}
	}
	if seen != len(want) {
		t.Errorf("saw %d of %d fields", seen, len(want))
	}
	// The override gives the tank pressure 2 decimals.
	for _, s := range ss {
		if s.Node() == NodeTank {
			f := s.Fields()
			if len(f) != 2 || f[1].Name != "Pressure" || f[1].Decimals != 2 || f[1].Unit != "bar" {
				t.Errorf("tank fields %+v", f)
			}
		}
	}
}

func TestOpenErrors(t *testing.T) {
	b, _ := newBoard()
	tests := []struct {
		name string
		cfg  config.Sensor
		want string
	}{
		{"nobody at the address", config.Sensor{Driver: config.DriverBH1750, Address: "0x5c"}, "bh1750 on sim-i2c addr 0x5c: sim-i2c: remote I/O error (no ACK"},
		{"no such pin", config.Sensor{Driver: config.DriverGPIO, Pin: "GPIO99"}, `no pin "GPIO99"`},
		{"no such bus", config.Sensor{Driver: config.DriverAHT20, Bus: "7"}, `no I²C bus "7"`},
		{"no such bridge", config.Sensor{Driver: config.DriverDS18B20, Bridge: "0x19", Address: "28-000005a1b2c3"}, "ds248x on sim-i2c addr 0x19"},
		{"invalid entry", config.Sensor{Driver: "bme820"}, `sensors[0] (bme820): sensor bme820: driver: unknown driver`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ss, err := sensors.Open([]config.Sensor{tt.cfg}, b, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open = %v, %v; want an error containing %q", ss, err, tt.want)
			}
		})
	}
	// A duplicate node id halts what was opened and names both entries.
	_, err := sensors.Open([]config.Sensor{
		{Driver: config.DriverAHT20, Node: "x"}, {Driver: config.DriverBME280, Node: "x"},
	}, b, nil)
	if err == nil || !strings.Contains(err.Error(), `sensors[1] (bme280): node "x" is also the node of sensors[0]`) {
		t.Errorf("duplicate node: %v", err)
	}
}

// TestSilentChip makes each chip stop answering after it was opened: its
// reads fail at once, naming the bus, the address and the cause, until it
// answers again.
func TestSilentChip(t *testing.T) {
	tests := []struct {
		cfg  config.Sensor
		addr uint16
		want string
	}{
		{config.Sensor{Driver: config.DriverBME280}, BME280Addr, "bmxx80 read on sim-i2c addr 0x76"},
		{config.Sensor{Driver: config.DriverBH1750}, BH1750Addr, "bh1750 read on sim-i2c addr 0x23"},
		{config.Sensor{Driver: config.DriverINA219}, INA219Addr, "ina219 read on sim-i2c addr 0x40"},
		{config.Sensor{Driver: config.DriverADS1x15}, ADS1115Addr, "ads1115 read input 0 on sim-i2c addr 0x48"},
		{config.Sensor{Driver: config.DriverAHT20}, AHT20Addr, "aht20 read on sim-i2c addr 0x38"},
		{config.Sensor{Driver: config.DriverHDC302x, Options: map[string]string{"rate": "10"}}, HDC302xAddr, "hdc302x read on sim-i2c addr 0x44"},
		{config.Sensor{Driver: config.DriverSCD4x}, SCD4xAddr, "scd4x read on sim-i2c addr 0x62"},
		{config.Sensor{Driver: config.DriverDS18B20, Bridge: "0x18", Address: "28-000005a1b2c3"}, DS2482Addr, "ds18b20 convert on DS2482-100{sim-i2c(24)} addr 0x07000005a1b2c328"},
	}
	for _, tt := range tests {
		t.Run(tt.cfg.Driver, func(t *testing.T) {
			b, _ := newBoard()
			ss, err := sensors.Open([]config.Sensor{tt.cfg}, b, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer ss[0].Halt()
			b.SetSilent(tt.addr, true)
			start := time.Now()
			_, err = ss[0].Read(context.Background(), 0)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "no ACK") {
				t.Errorf("read of a silent chip = %v\nwant it to contain %q and the cause", err, tt.want)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("the failing read took %v", d)
			}
			b.SetSilent(tt.addr, false)
			if _, err := ss[0].Read(context.Background(), 0); err != nil {
				t.Errorf("read after it answers again = %v", err)
			}
		})
	}
}
