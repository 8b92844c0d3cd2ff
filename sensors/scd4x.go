package sensors

import (
	"context"
	"fmt"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/devices/v3/scd4x"
)

// SCD4xAddr is the fixed I²C address of the SCD40 and SCD41.
const SCD4xAddr = 0x62

// SCD4xOpts configures a Sensirion SCD40/SCD41 CO₂ sensor.
type SCD4xOpts struct {
	// Node is the node id; "" means "scd4x-0x62".
	Node string
	// Now stamps the fields; nil means time.Now.
	Now func() time.Time
}

// SCD4x reads CO₂ (ppm), temperature (°C) and relative humidity (%)
// through periph's scd4x driver, which keeps the chip in periodic
// measurement mode (one sample every 5 s): a Read waits up to 6 s for a
// fresh sample, so poll it every 5 s or slower.
type SCD4x struct {
	*i2cDev
	dev *scd4x.Dev
	bus i2c.Bus
}

// Field specs of the SCD4x driver.
var (
	scdCO2         = FieldSpec{Name: "CO2", Kind: KindNumeric, Unit: "ppm", Decimals: 0, Types: Momentary}
	scdTemperature = FieldSpec{Name: "Temperature", Kind: KindNumeric, Unit: "°C", Decimals: 2, Types: Momentary}
	scdHumidity    = FieldSpec{Name: "Humidity", Kind: KindNumeric, Unit: "%", Decimals: 1, Types: Momentary}
)

// NewSCD4x wakes the chip on bus and starts periodic measurement.
func NewSCD4x(bus i2c.Bus, opts SCD4xOpts) (*SCD4x, error) {
	d := newI2CDev("scd4x", bus.String(), SCD4xAddr, opts.Node, opts.Now)
	dev, err := scd4x.NewI2C(bus, SCD4xAddr)
	if err != nil {
		return nil, d.wrap("start", err)
	}
	return &SCD4x{i2cDev: d, dev: dev, bus: bus}, nil
}

// String names the chip, the bus and the address.
func (s *SCD4x) String() string { return fmt.Sprintf("SCD4x{%s(%#x)}", s.bus, s.addr) }

// Fields lists CO2, Temperature and Humidity.
func (s *SCD4x) Fields() []FieldSpec { return []FieldSpec{scdCO2, scdTemperature, scdHumidity} }

// Read waits for the data-ready flag and reads the latest sample.
func (s *SCD4x) Read(ctx context.Context, types ReadoutType) ([]Field, error) {
	if skip, err := skipRead(ctx, types, Momentary); skip || err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// periph's Sense retries a failing data-ready command for 6 s and then
	// reports a timeout without the bus error: ask once first, so that a
	// chip that stopped answering fails at once and says why.
	var ready [3]byte
	if err := s.bus.Tx(s.addr, []byte{0xe4, 0xb8}, ready[:]); err != nil {
		return nil, s.wrap("read", err)
	}
	var e scd4x.Env
	if err := s.dev.Sense(&e); err != nil {
		return nil, s.wrap("read", err)
	}
	ts := s.now()
	return []Field{
		scdCO2.Field(s.node, Numeric(float64(e.CO2)), ts, QoSAutomaticReadout),
		scdTemperature.Field(s.node, Numeric(celsius(e.Temperature)), ts, QoSAutomaticReadout),
		scdHumidity.Field(s.node, Numeric(float64(e.Humidity)/float64(physic.PercentRH)), ts, QoSAutomaticReadout),
	}, nil
}

// Halt stops periodic measurement (the chip needs 500 ms for that).
func (s *SCD4x) Halt() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.dev.Halt(); err != nil {
		return s.wrap("stop", err)
	}
	return nil
}
