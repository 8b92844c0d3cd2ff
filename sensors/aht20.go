package sensors

import (
	"context"
	"fmt"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/devices/v3/aht20"
)

// AHT20Addr is the fixed I²C address of the AHT20.
const AHT20Addr = 0x38

// AHT20Opts configures an Aosong AHT20 temperature and humidity sensor.
type AHT20Opts struct {
	// Node is the node id; "" means "aht20-0x38".
	Node string
	// Now stamps the fields; nil means time.Now.
	Now func() time.Time
}

// AHT20 reads temperature (°C) and relative humidity (%) through periph's
// aht20 driver, which checks the CRC of every measurement.
type AHT20 struct {
	*i2cDev
	dev *aht20.Dev
}

// NewAHT20 reads the status of the chip on bus and calibrates it if needed.
func NewAHT20(bus i2c.Bus, opts AHT20Opts) (*AHT20, error) {
	d := newI2CDev("aht20", bus.String(), AHT20Addr, opts.Node, opts.Now)
	o := aht20.DefaultOpts
	dev, err := aht20.NewI2C(bus, &o)
	if err != nil {
		return nil, d.wrap("", err)
	}
	return &AHT20{i2cDev: d, dev: dev}, nil
}

// String names the chip, the bus and the address.
func (s *AHT20) String() string { return fmt.Sprintf("AHT20{%s(%#x)}", s.bus, s.addr) }

// Fields lists Temperature and Humidity.
func (s *AHT20) Fields() []FieldSpec { return climateSpecs() }

// Read triggers a measurement and waits the 80 ms it takes.
func (s *AHT20) Read(ctx context.Context, types ReadoutType) ([]Field, error) {
	if skip, err := skipRead(ctx, types, Momentary); skip || err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.climate(s.dev)
}

// Halt stops nothing: the driver measures only on Read.
func (s *AHT20) Halt() error { return s.dev.Halt() }
