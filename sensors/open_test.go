package sensors

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/xiot/xiot/internal/config"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/onewire"
)

// fakeHW is Hardware made of periph's fakes.
type fakeHW struct {
	bus  i2c.Bus
	pins map[string]gpio.PinIO
}

func (h fakeHW) I2C(name string) (i2c.Bus, error) {
	if name != "" {
		return nil, errors.New("no such bus")
	}
	return h.bus, nil
}
func (h fakeHW) OneWire(string) (onewire.Bus, error) { return nil, errors.New("no 1-wire") }
func (h fakeHW) Pin(name string) gpio.PinIO          { return h.pins[name] }

func TestOpenOverridesAndTypes(t *testing.T) {
	// The BH1750 traffic of TestBH1750, read once.
	bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
		{Addr: 0x23, W: []byte{0x07}},
		{Addr: 0x23, W: []byte{0x10}},
		{Addr: 0x23, W: []byte{0x07}},
		{Addr: 0x23, W: []byte{0x10}},
		{Addr: 0x23, W: []byte{0x10}, R: []byte{0x83, 0x90}},
	}}
	door := &gpiotest.Pin{N: "DOOR", L: gpio.Low}
	hw := fakeHW{bus: bus, pins: map[string]gpio.PinIO{"DOOR": door}}
	ss, err := Open([]config.Sensor{
		{
			Driver: config.DriverBH1750, Node: "hall", Types: []string{"momentary", "historicalDay"},
			Fields: map[string]config.SensorField{"Light": {Name: "Illuminance", Decimals: "1"}},
		},
		{Driver: config.DriverGPIO, Pin: "DOOR", Options: map[string]string{"invert": "true"}, Types: []string{"status"}},
	}, hw, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	hall := ss[0].(*Configured)
	if hall.Serves() != Momentary|HistoricalDay || hall.Interval() != config.DefaultSensorInterval {
		t.Errorf("serves %v, interval %v", hall.Serves(), hall.Interval())
	}
	// Served but not produced by the driver: nothing, and no bus traffic
	// (the playback would fail on an extra transaction).
	if f, err := hall.Read(context.Background(), HistoricalDay|Peak); err != nil || len(f) != 0 {
		t.Errorf("Read(historicalDay) = %v, %v", f, err)
	}
	f, err := hall.Read(context.Background(), 0)
	if err != nil || len(f) != 1 {
		t.Fatalf("Read = %v, %v", f, err)
	}
	if got := f[0].String(); got != "hall/Illuminance = 28066.0 lx [momentary; automaticReadout]" {
		t.Errorf("field %s", got)
	}
	if specs := hall.Fields(); len(specs) != 1 || specs[0].Name != "Illuminance" || specs[0].Decimals != 1 {
		t.Errorf("Fields() = %+v", specs)
	}
	// The GPIO input serves status only, but its driver reports momentary
	// fields: the node answers nothing and lists nothing.
	if specs := ss[1].Fields(); len(specs) != 0 {
		t.Errorf("gpio Fields() = %+v", specs)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}

	_, err = Open([]config.Sensor{{Driver: config.DriverDS18B20, Address: "28-000005a1b2c3"}}, hw, nil)
	if err == nil || !strings.Contains(err.Error(), "no 1-wire") {
		t.Errorf("Open ds18b20 without a 1-Wire bus = %v", err)
	}
}
