package sim

import (
	"context"
	"encoding/binary"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xiot/xiot/sensors"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/onewire"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/devices/v3/bmxx80"
	"periph.io/x/devices/v3/ds18b20"
)

var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

// clock is a settable clock safe to read from the board's goroutines.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(e time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t0.Add(e) }

func newBoard() (*Board, *clock) {
	c := &clock{t: t0}
	return New(c.Now), c
}

// TestBME280RealDriver reads the emulated chip through periph's bmxx80
// driver, as on hardware, at three clock times of the 10-minute sine.
func TestBME280RealDriver(t *testing.T) {
	b, clk := newBoard()
	dev, err := bmxx80.NewI2C(b.I2CBus(), BME280Addr, &bmxx80.DefaultOpts)
	if err != nil {
		t.Fatal(err)
	}
	if dev.String() != "BME280{sim-i2c(118)}" {
		t.Errorf("String() = %q", dev.String())
	}
	tests := []struct {
		elapsed    time.Duration
		celsius    float64 // driver resolution 0.01 °C
		hPa        float64 // ~0.2 Pa per ADC step
		percentRH  float64 // ~0.011 % per ADC step here, so ±0.006
		tolP, tolH float64
	}{
		{0, 21.50, 1013.25, 45.0, 0.005, 0.006},
		{150 * time.Second, 23.00, 1014.25, 40.0, 0.005, 0.006}, // sin = 1, sin(π/6) = 1/2
		{450 * time.Second, 20.00, 1015.25, 50.0, 0.005, 0.006}, // sin = −1, sin(π/2) = 1
	}
	for _, tt := range tests {
		clk.Set(tt.elapsed)
		var e physic.Env
		if err := dev.Sense(&e); err != nil {
			t.Fatal(err)
		}
		if want := physic.Temperature(tt.celsius*100)*10*physic.MilliCelsius + physic.ZeroCelsius; e.Temperature != want {
			t.Errorf("at %v: temperature %s, want %s", tt.elapsed, e.Temperature, want)
		}
		if p := float64(e.Pressure) / float64(100*physic.Pascal); math.Abs(p-tt.hPa) > tt.tolP {
			t.Errorf("at %v: pressure %.4f hPa, want %.2f", tt.elapsed, p, tt.hPa)
		}
		if h := float64(e.Humidity) / float64(physic.PercentRH); math.Abs(h-tt.percentRH) > tt.tolH {
			t.Errorf("at %v: humidity %.4f %%, want %.1f", tt.elapsed, h, tt.percentRH)
		}
	}
}

func readAll(t *testing.T, ss []sensors.Sensor) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, s := range ss {
		fields, err := s.Read(context.Background(), 0)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		for _, f := range fields {
			if err := f.Validate(); err != nil {
				t.Error(err)
			}
			out[f.Node+"/"+f.Name] = strings.TrimSpace(f.Text() + " " + f.Unit)
		}
	}
	return out
}

func TestSensorsAtTwoTimes(t *testing.T) {
	b, clk := newBoard()
	ss, err := b.Sensors()
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
	tests := []struct {
		elapsed time.Duration
		want    map[string]string
	}{
		{0, map[string]string{
			"bme280/Temperature": "21.50 °C", "bme280/Humidity": "45.0 %", "bme280/Pressure": "1013.25 hPa",
			"ds18b20/Temperature": "20.00 °C",
			"thermostat/Relay":    "false", "thermostat/Setpoint": "21.0 °C",
		}},
		{150 * time.Second, map[string]string{
			"bme280/Temperature": "23.00 °C", "bme280/Humidity": "40.0 %", "bme280/Pressure": "1014.25 hPa",
			"ds18b20/Temperature": "18.00 °C",
		}},
		{300 * time.Second, map[string]string{
			"bme280/Temperature": "21.50 °C", "bme280/Humidity": "45.0 %",
			"ds18b20/Temperature": "16.00 °C",
		}},
	}
	for _, tt := range tests {
		clk.Set(tt.elapsed)
		got := readAll(t, ss)
		for k, w := range tt.want {
			if got[k] != w {
				t.Errorf("at %v: %s = %q, want %q", tt.elapsed, k, got[k], w)
			}
		}
	}
}

// TestMeter walks the clock in 100 ms steps and checks the pulse counter
// against the integral of 600 + 400·sin(2πt/10min) W.
func TestMeter(t *testing.T) {
	b, clk := newBoard()
	ss, err := b.Sensors()
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, s := range ss {
			_ = s.Halt()
		}
	}()
	meter := ss[2].(*sensors.PulseCounter)
	step := 100 * time.Millisecond
	check := func(e time.Duration, pulses, energy string, power float64) {
		t.Helper()
		for ; e > 0 && clk.Now().Sub(t0) < e; clk.Set(clk.Now().Sub(t0) + step) {
			want := int64(1234000) + b.pulsesAt(clk.Now())
			deadline := time.Now().Add(2 * time.Second)
			for meter.Count() != want {
				if time.Now().After(deadline) {
					t.Fatalf("at %v: count %d, want %d", clk.Now().Sub(t0), meter.Count(), want)
				}
				time.Sleep(time.Millisecond)
			}
		}
		got := map[string]sensors.Field{}
		fields, err := meter.Read(context.Background(), sensors.Momentary)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fields {
			got[f.Name] = f
		}
		if got["Pulses"].Text() != pulses || got["Energy"].Text() != energy {
			t.Errorf("at %v: pulses %s energy %s, want %s and %s", e, got["Pulses"].Text(), got["Energy"].Text(), pulses, energy)
		}
		p, _ := got["Power"].Value.Float()
		if power == 0 && !got["Power"].QoS.Has(sensors.QoSMissing) {
			t.Errorf("at %v: power %v should be missing", e, got["Power"])
		}
		if power != 0 && math.Abs(p-power)/power > 0.05 {
			t.Errorf("at %v: power %.0f W, want %.0f ± 5%%", e, p, power)
		}
	}
	check(0, "1234000", "1234.000", 0)
	// 600·150 + 400·600/2π = 128197 J = 35.6 Wh; power peaks at 1000 W.
	check(150*time.Second, "1234035", "1234.035", 1000)
	// 600·300 + 2·400·600/2π = 256394 J = 71.2 Wh; power back at 600 W.
	check(300*time.Second, "1234071", "1234.071", 600)
}

func TestThermostatAndHeatHook(t *testing.T) {
	b, clk := newBoard()
	ss, err := b.Sensors()
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, s := range ss {
			_ = s.Halt()
		}
	}()
	b.SetHeatHook(func(_ time.Time, on bool) float64 {
		if on {
			return 2
		}
		return 0
	})
	if err := b.Pin(RelayPin).Out(gpio.High); err != nil {
		t.Fatal(err)
	}
	b.SetSetpoint(22.5)
	clk.Set(0)
	got := readAll(t, ss)
	for k, w := range map[string]string{"thermostat/Relay": "true", "thermostat/Setpoint": "22.5 °C", "bme280/Temperature": "23.50 °C"} {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}
	status, err := ss[3].Read(context.Background(), sensors.Momentary)
	if err != nil || len(status) != 0 {
		t.Errorf("thermostat momentary read = %v, %v; its fields are status only", status, err)
	}
}

func TestDS18B20Bus(t *testing.T) {
	b, clk := newBoard()
	var rom [8]byte
	binary.LittleEndian.PutUint64(rom[:], uint64(DS18B20Addr))
	if !onewire.CheckCRC(rom[:]) || ds18b20.Family(rom[0]) != ds18b20.DS18B20 {
		t.Fatalf("ROM code %#x has a bad CRC or family", uint64(DS18B20Addr))
	}
	found, err := sensors.FindDS18B20(b.OneWireBus())
	if err != nil || len(found) != 1 || found[0] != DS18B20Addr {
		t.Fatalf("FindDS18B20 = %x, %v", found, err)
	}
	// At 9 bits the emulation drops the 3 low bits: 18 + 2·cos(2π·100/600)
	// = 19.000 exactly, 18 + 2·cos(2π·50/600) = 19.732 → 19.5 at 0.5 °C.
	dev, err := ds18b20.New(b.OneWireBus(), DS18B20Addr, 9)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		e    time.Duration
		want physic.Temperature
	}{{100 * time.Second, 19 * physic.Celsius}, {50 * time.Second, 19500 * physic.MilliCelsius}} {
		clk.Set(tt.e)
		if err := b.OneWireBus().Tx([]byte{0xcc, 0x44}, nil, onewire.StrongPullup); err != nil {
			t.Fatal(err)
		}
		got, err := dev.LastTemp()
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.want+physic.ZeroCelsius {
			t.Errorf("at %v: %s, want %s", tt.e, got, tt.want+physic.ZeroCelsius)
		}
	}
	// Another ROM code: nobody answers.
	if _, err := sensors.NewDS18B20(b.OneWireBus(), DS18B20Addr+1, sensors.DS18B20Opts{}); err == nil || !strings.Contains(err.Error(), "did not respond") {
		t.Errorf("unknown ROM: %v", err)
	}
}

func TestWrongI2CAddress(t *testing.T) {
	b, _ := newBoard()
	_, err := sensors.NewBME280(b.I2CBus(), sensors.BME280Opts{Addr: 0x77})
	if err == nil || !strings.Contains(err.Error(), "no ACK") || !strings.Contains(err.Error(), "sim-i2c") {
		t.Fatalf("error %v, want a no-ACK error naming the bus", err)
	}
	if b.Pin("GPIO99") != nil {
		t.Error("unknown pin is not nil")
	}
}
