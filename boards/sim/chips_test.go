package sim

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/xiot/xiot/sensors"
	"periph.io/x/conn/v3/physic"
)

// values reads s and returns the numeric fields by name.
func values(t *testing.T, s sensors.Sensor) map[string]float64 {
	t.Helper()
	fields, err := s.Read(context.Background(), sensors.Momentary)
	if err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	out := make(map[string]float64)
	for _, f := range fields {
		out[f.Name], _ = f.Value.Float()
	}
	return out
}

// TestChipsThroughPeriphDrivers reads every chip of i2c.go through our
// drivers on periph's, at three points of the sines, and compares with
// At and AmbientAt within each chip's resolution.
func TestChipsThroughPeriphDrivers(t *testing.T) {
	b, clk := newBoard()
	ads, err := sensors.NewADS1x15(b.I2CBus(), sensors.ADS1x15Opts{
		Addr: ADS1115Addr, Scale: sensors.Linear{X0: 0.5, X1: 4.5, Y0: 0, Y1: 10}, Name: "Tank", Unit: "bar", Decimals: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	ads1, err := sensors.NewADS1x15(b.I2CBus(), sensors.ADS1x15Opts{Addr: ADS1115Addr, Input: "0-1", FullScale: 6 * physic.Volt})
	if err != nil {
		t.Fatal(err)
	}
	ina, err := sensors.NewINA219(b.I2CBus(), sensors.INA219Opts{Addr: INA219Addr})
	if err != nil {
		t.Fatal(err)
	}
	aht, err := sensors.NewAHT20(b.I2CBus(), sensors.AHT20Opts{})
	if err != nil {
		t.Fatal(err)
	}
	bh, err := sensors.NewBH1750(b.I2CBus(), sensors.BH1750Opts{Addr: BH1750Addr})
	if err != nil {
		t.Fatal(err)
	}
	scd, err := sensors.NewSCD4x(b.I2CBus(), sensors.SCD4xOpts{})
	if err != nil {
		t.Fatal(err)
	}
	ow, err := sensors.OpenDS248x(b.I2CBus(), DS2482Addr)
	if err != nil {
		t.Fatal(err)
	}
	found, err := sensors.FindDS18B20(ow)
	if err != nil || len(found) != 1 || found[0] != DS18B20Addr {
		t.Fatalf("search through the DS2482 = %x, %v", found, err)
	}
	ds, err := sensors.NewDS18B20(ow, DS18B20Addr, sensors.DS18B20Opts{Conversion: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	near := func(name string, got, want, tol float64) {
		t.Helper()
		if math.Abs(got-want) > tol {
			t.Errorf("%s = %v, want %v ± %v", name, got, want, tol)
		}
	}
	for _, e := range []time.Duration{0, 150 * time.Second, 450 * time.Second} {
		clk.Set(e)
		c, a := b.At(clk.Now()), b.AmbientAt(clk.Now())
		v := values(t, ads)
		near("ADS1115 Voltage", v["Voltage"], TankVoltage(a.Tank), 2e-4)
		near("ADS1115 Tank", v["Tank"], a.Tank, 1e-3)
		near("ADS1115 0-1", values(t, ads1)["Voltage"], TankVoltage(a.Tank)-ADS1115Input1, 4e-4)
		v = values(t, ina)
		near("INA219 Voltage", v["Voltage"], a.Supply, 4e-3)
		near("INA219 Current", v["Current"], a.Load, 2e-4)
		near("INA219 Power", v["Power"], a.Supply*a.Load, 5e-3)
		v = values(t, aht)
		near("AHT20 Temperature", v["Temperature"], c.Temperature, 1e-3)
		near("AHT20 Humidity", v["Humidity"], c.Humidity, 1e-3)
		near("BH1750 Light", values(t, bh)["Light"], a.Light, 1.5)
		v = values(t, scd)
		near("SCD4x CO2", v["CO2"], a.CO2, 0.5)
		near("SCD4x Temperature", v["Temperature"], c.Temperature, 3e-3)
		near("SCD4x Humidity", v["Humidity"], c.Humidity, 2e-3)
		near("DS18B20 via DS2482", values(t, ds)["Temperature"], c.Water, 0.0625)
	}
	// The values vary: a quarter period apart, the light differs by 300 lx.
	clk.Set(0)
	l0 := values(t, bh)["Light"]
	clk.Set(Period / 4)
	if l1 := values(t, bh)["Light"]; l1-l0 < 290 {
		t.Errorf("light %v then %v: not varying", l0, l1)
	}
	for _, s := range []sensors.Sensor{ads, ina, aht, bh, ds} {
		if err := s.Halt(); err != nil {
			t.Error(err)
		}
	}
}
