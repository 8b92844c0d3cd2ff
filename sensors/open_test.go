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
		{Driver: config.DriverGPIO, Pin: "DOOR", Options: map[string]string{"invert": "true"}, Types: []string{"momentary"}},
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
	if f, err := ss[1].Read(context.Background(), Momentary); err != nil || len(f) != 1 || f[0].Text() != "true" {
		t.Errorf("inverted door = %v, %v", f, err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}

	// A node serving only types its driver does not report, and no
	// historical one, is a configuration mistake.
	_, err = Open([]config.Sensor{{Driver: config.DriverGPIO, Pin: "DOOR", Types: []string{"status"}}}, hw, nil)
	if err == nil || !strings.Contains(err.Error(), "sensors[0] (gpio): types status: the gpio driver reports momentary fields") {
		t.Errorf("Open with types the driver lacks = %v", err)
	}
	// Serving history only is fine, and Sample still reads the driver.
	ss, err = Open([]config.Sensor{{Driver: config.DriverGPIO, Pin: "DOOR", Types: []string{"historical"}}}, hw, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	if f, err := ss[0].Read(context.Background(), 0); err != nil || len(f) != 0 {
		t.Errorf("Read of a history-only node = %v, %v", f, err)
	}
	if f, err := ss[0].(*Configured).Sample(context.Background()); err != nil || len(f) != 1 {
		t.Errorf("Sample = %v, %v", f, err)
	}

	_, err = Open([]config.Sensor{{Driver: config.DriverDS18B20, Address: "28-000005a1b2c3"}}, hw, nil)
	if err == nil || !strings.Contains(err.Error(), "no 1-wire") {
		t.Errorf("Open ds18b20 without a 1-Wire bus = %v", err)
	}
}
