package sim

import (
	"context"
	"fmt"
	"time"

	"github.com/xiot/xiot/sensors"
	"periph.io/x/devices/v3/bmxx80"
)

// Node ids of the sensors Sensors returns.
const (
	NodeBME280     = "bme280"
	NodeDS18B20    = "ds18b20"
	NodeMeter      = "meter"
	NodeThermostat = "thermostat"
)

// Sensors returns new drivers for the board's parts, in this order: the
// BME280 (Temperature °C, Pressure hPa, Humidity %) and the DS18B20
// (Temperature °C), both read through periph's real drivers; the S0 pulse
// counter (Pulses, Energy kWh, Power W); and the thermostat (Relay boolean
// and Setpoint °C, status fields). All stamp fields with the board clock.
// The pulse counter runs a goroutine: Halt every sensor when done.
func (b *Board) Sensors() ([]sensors.Sensor, error) {
	// 1x oversampling: the emulation ignores it, and it keeps the driver's
	// fixed measurement wait at 8 ms instead of 26 ms.
	bme, err := sensors.NewBME280(b.I2CBus(), sensors.BME280Opts{
		Node: NodeBME280, Addr: BME280Addr, Now: b.now,
		Sense: &bmxx80.Opts{Temperature: bmxx80.O1x, Pressure: bmxx80.O1x, Humidity: bmxx80.O1x},
	})
	if err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	// The emulated conversion is instant; 1 ms keeps reads fast.
	ds, err := sensors.NewDS18B20(b.OneWireBus(), DS18B20Addr, sensors.DS18B20Opts{
		Node: NodeDS18B20, Now: b.now, Conversion: time.Millisecond,
	})
	if err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	meter, err := sensors.NewPulseCounter(b.Pin(PulsePin), sensors.PulseCounterOpts{
		Node: NodeMeter, PulsesPerKWh: PulsesPerKWh, Now: b.now,
		Initial: int64(InitialEnergy * PulsesPerKWh),
	})
	if err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	return []sensors.Sensor{bme, ds, meter, &thermostat{b: b}}, nil
}

// Thermostat returns the board's relay and setpoint as a sensor of status
// fields (node NodeThermostat), for configurations that declare the other
// parts through SensorConfig.
func (b *Board) Thermostat() sensors.Sensor { return &thermostat{b: b} }

// Field specs of the thermostat. A later control package makes them
// writable through XEP-0325.
var (
	relaySpec    = sensors.FieldSpec{Name: "Relay", Kind: sensors.KindBoolean, Types: sensors.Status}
	setpointSpec = sensors.FieldSpec{Name: "Setpoint", Kind: sensors.KindNumeric, Unit: "°C", Decimals: 1, Types: sensors.Status}
)

// thermostat reports the relay and the setpoint as status fields.
type thermostat struct{ b *Board }

// String names the relay pin.
func (t *thermostat) String() string { return "Thermostat{" + t.b.relay.String() + "}" }

// Node returns NodeThermostat.
func (t *thermostat) Node() string { return NodeThermostat }

// Halt does nothing; the relay keeps its level.
func (t *thermostat) Halt() error { return nil }

// Fields lists Relay and Setpoint.
func (t *thermostat) Fields() []sensors.FieldSpec {
	return []sensors.FieldSpec{relaySpec, setpointSpec}
}

// Read reports the relay level and the setpoint.
func (t *thermostat) Read(ctx context.Context, types sensors.ReadoutType) ([]sensors.Field, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := t.b.now()
	fields := []sensors.Field{
		relaySpec.Field(NodeThermostat, sensors.Boolean(t.b.Relay()), now, sensors.QoSAutomaticReadout),
		setpointSpec.Field(NodeThermostat, sensors.Numeric(t.b.Setpoint()), now, sensors.QoSAutomaticReadout),
	}
	return sensors.Filter(fields, types), nil
}
