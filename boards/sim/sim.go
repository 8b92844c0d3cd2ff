// Package sim is a simulated board built from periph's fakes, so the agent,
// the protocols and the CLI run without hardware and tests can assert exact
// values.
//
// The board has a BME280 emulated at the register level on an I²C bus (the
// real bmxx80 driver reads it), a DS18B20 emulated on a 1-wire bus (the real
// ds18b20 driver reads its scratchpad), a GPIO producing S0 meter pulses, a
// GPIO driving a relay and a virtual setpoint. Every physical value is a
// deterministic function of the time elapsed since New on the injected
// clock: slow sines with a 10-minute period (30 minutes for pressure) around
// fixed offsets. See Board.At for the exact formulas.
//
// The same I²C bus also carries, emulated at the register level for
// periph's drivers, an ADS1115 ADC, an INA219 power monitor, an AHT20 and
// an HDC3022, a BH1750 light sensor, an SCD41 CO₂ sensor and a DS2482-100
// bridge to the DS18B20's 1-Wire segment (i2c.go; values from
// Board.AmbientAt). SensorConfig declares them all for sensors.Open.
package sim

import (
	"math"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/onewire"
)

// Addresses and names of the simulated parts.
const (
	// BME280Addr is the I²C address of the simulated BME280.
	BME280Addr = 0x76
	// DS18B20Addr is the ROM code of the simulated DS18B20 (family 0x28,
	// serial 0x0000_05a1_b2c3, CRC 0x07).
	DS18B20Addr onewire.Address = 0x07000005a1b2c328
	// PulsePin is the name of the pin carrying S0 meter pulses.
	PulsePin = "PULSE"
	// RelayPin is the name of the pin driving the relay.
	RelayPin = "RELAY"
	// PulsesPerKWh is the meter constant of the simulated S0 meter.
	PulsesPerKWh = 1000
	// InitialEnergy is the meter reading, in kWh, at the board's start.
	InitialEnergy = 1234.0
	// DefaultSetpoint is the setpoint, in °C, at the board's start.
	DefaultSetpoint = 21.0
)

// Period is the period of the temperature, humidity and power sines.
const Period = 10 * time.Minute

// Conditions are the simulated physical values at one instant.
type Conditions struct {
	Temperature float64 // room air, °C (BME280)
	Humidity    float64 // room air, %RH (BME280)
	Pressure    float64 // hPa (BME280)
	Water       float64 // °C (DS18B20)
	Power       float64 // W drawn through the S0 meter
	Energy      float64 // kWh on the S0 meter, InitialEnergy included
}

// HeatHook returns how many °C the relay adds to the room temperature at
// now; relayOn is the relay pin level. A later control model (heater
// dynamics) plugs in here.
type HeatHook func(now time.Time, relayOn bool) float64

// Board is a simulated board. Its methods are safe for concurrent use.
type Board struct {
	now   func() time.Time
	start time.Time

	i2c   *i2cBus
	ow    *ds18b20Bus
	pulse *pulsePin
	relay *gpiotest.Pin

	mu       sync.Mutex
	setpoint float64
	heat     HeatHook
}

// New returns a board whose values follow clock (time.Now for a live
// board, a settable function in tests); elapsed time counts from this call.
func New(clock func() time.Time) *Board {
	if clock == nil {
		clock = time.Now
	}
	b := &Board{now: clock, start: clock(), setpoint: DefaultSetpoint}
	b.i2c = newI2CBus(b)
	b.ow = newDS18B20Bus(b)
	b.pulse = newPulsePin(b)
	b.relay = &gpiotest.Pin{N: RelayPin, Num: 22, Fn: "Out/Low"}
	return b
}

// String names the board.
func (b *Board) String() string { return "sim" }

// Start returns the instant elapsed time counts from.
func (b *Board) Start() time.Time { return b.start }

// I2CBus returns the I²C bus the BME280 answers on at BME280Addr, and
// the chips of i2c.go at theirs.
func (b *Board) I2CBus() i2c.Bus { return b.i2c }

// OneWireBus returns the 1-wire bus holding the DS18B20 at DS18B20Addr.
func (b *Board) OneWireBus() onewire.Bus { return b.ow }

// Pin returns the pin called name (PulsePin or RelayPin), or nil.
func (b *Board) Pin(name string) gpio.PinIO {
	switch name {
	case PulsePin:
		return b.pulse
	case RelayPin:
		return b.relay
	}
	return nil
}

// PinNames lists the names Pin knows.
func (b *Board) PinNames() []string { return []string{PulsePin, RelayPin} }

// Relay reports whether the relay pin is driven high.
func (b *Board) Relay() bool { return b.relay.Read() == gpio.High }

// Setpoint returns the virtual setpoint in °C.
func (b *Board) Setpoint() float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.setpoint
}

// SetSetpoint sets the virtual setpoint in °C.
func (b *Board) SetSetpoint(c float64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.setpoint = c
}

// SetHeatHook installs how the relay warms the room; nil removes it.
func (b *Board) SetHeatHook(h HeatHook) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.heat = h
}

// Now returns the board clock's current time.
func (b *Board) Now() time.Time { return b.now() }

// At returns the simulated conditions at t. With e the time elapsed since
// Start, w = 2π·e/Period and v = 2π·e/(3·Period):
//
//	Temperature = 21.50 + 1.50·sin w + heat hook
//	Humidity    = 45.0 − 5.0·sin w
//	Pressure    = 1013.25 + 2.00·sin v
//	Water       = 18.00 + 2.00·cos w
//	Power       = 600 + 400·sin w
//	Energy      = InitialEnergy + ∫Power
func (b *Board) At(t time.Time) Conditions {
	e := t.Sub(b.start).Seconds()
	period := Period.Seconds()
	w := 2 * math.Pi * e / period
	c := Conditions{
		Temperature: 21.5 + 1.5*math.Sin(w),
		Humidity:    45 - 5*math.Sin(w),
		Pressure:    1013.25 + 2*math.Sin(w/3),
		Water:       18 + 2*math.Cos(w),
		Power:       600 + 400*math.Sin(w),
		// ∫₀ᵉ 600 + 400·sin(2πs/P) ds = 600e + 400·P/2π·(1 − cos w), in J.
		Energy: InitialEnergy + (600*e+400*period/(2*math.Pi)*(1-math.Cos(w)))/3.6e6,
	}
	b.mu.Lock()
	heat := b.heat
	b.mu.Unlock()
	if heat != nil {
		c.Temperature += heat(t, b.Relay())
	}
	return c
}

// pulsesAt returns the meter pulses emitted between Start and t.
func (b *Board) pulsesAt(t time.Time) int64 {
	if t.Before(b.start) {
		return 0
	}
	kWh := b.At(t).Energy - InitialEnergy
	return int64(math.Floor(kWh*PulsesPerKWh + 1e-9))
}
