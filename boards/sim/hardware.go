package sim

import (
	"fmt"
	"time"

	"github.com/xiot/xiot/internal/config"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/onewire"
)

// I2C returns the board's one I²C bus for "" or its name, "sim-i2c"; with
// OneWire and Pin it makes the board a sensors.Hardware.
func (b *Board) I2C(name string) (i2c.Bus, error) {
	if name != "" && name != b.i2c.String() {
		return nil, fmt.Errorf("sim: no I²C bus %q; the sim board has one, %q", name, b.i2c.String())
	}
	return b.i2c, nil
}

// OneWire returns the board's 1-Wire bus for "" or its name,
// "sim-onewire".
func (b *Board) OneWire(name string) (onewire.Bus, error) {
	if name != "" && name != b.ow.String() {
		return nil, fmt.Errorf("sim: no 1-Wire bus %q; the sim board has one, %q", name, b.ow.String())
	}
	return b.ow, nil
}

// Node ids of the sensors SensorConfig declares besides those of Sensors.
const (
	NodeTank   = "tank"
	NodeSupply = "supply"
	NodeAir    = "air"
	NodeAir2   = "air2"
	NodeLight  = "light"
	NodeCO2    = "co2"
	NodeWater2 = "water-bridged"
)

// SensorConfig returns a sensors configuration section declaring every
// part of the board: the BME280, the DS18B20 (directly), the S0 meter, and
// the chips of i2c.go, the DS18B20 again through the DS2482. Polled every
// minute, except the SCD41 (every 30 s). The HDC3022 measures at 10 Hz so
// that opening it waits 100 ms only. The emulated DS18B20 converts at
// once, so the conversion wait is 1 ms.
func SensorConfig() []config.Sensor {
	hex := func(a uint16) string { return fmt.Sprintf("%#x", a) }
	rom := fmt.Sprintf("%016x", uint64(DS18B20Addr))
	return []config.Sensor{
		{Driver: config.DriverBME280, Node: NodeBME280, Address: hex(BME280Addr)},
		{Driver: config.DriverDS18B20, Node: NodeDS18B20, Address: rom, Options: map[string]string{"resolution": "12", "conversion": "1ms"}},
		{Driver: config.DriverPulse, Node: NodeMeter, Pin: PulsePin, Options: map[string]string{"pulses_per_kwh": fmt.Sprint(PulsesPerKWh)}},
		{
			Driver: config.DriverADS1x15, Node: NodeTank, Address: hex(ADS1115Addr),
			Options: map[string]string{"input": "0", "full_scale": "4.096", "scale": "0.5=0 4.5=10"},
			Fields:  map[string]config.SensorField{"Value": {Name: "Pressure", Unit: "bar", Decimals: "2"}},
		},
		{Driver: config.DriverINA219, Node: NodeSupply, Address: hex(INA219Addr), Options: map[string]string{"shunt": fmt.Sprint(INA219Shunt)}},
		{Driver: config.DriverAHT20, Node: NodeAir},
		{Driver: config.DriverHDC302x, Node: NodeAir2, Address: hex(HDC302xAddr), Options: map[string]string{"rate": "10"}},
		{Driver: config.DriverBH1750, Node: NodeLight, Address: hex(BH1750Addr)},
		{Driver: config.DriverSCD4x, Node: NodeCO2, Interval: 30 * time.Second},
		{Driver: config.DriverDS18B20, Node: NodeWater2, Bridge: hex(DS2482Addr), Address: rom, Options: map[string]string{"conversion": "1ms"}},
	}
}
