package sensors

import (
	"context"
	"fmt"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/devices/v3/ina219"
)

// INA219Opts configures a TI INA219 current and power monitor on I²C.
type INA219Opts struct {
	// Node is the node id; "" means "ina219-0x40" (with the address).
	Node string
	// Addr is the I²C address, 0x40 to 0x4f; 0 means 0x40.
	Addr uint16
	// Shunt is the shunt resistor; 0 means 100 mΩ (the common breakout).
	Shunt physic.ElectricResistance
	// MaxCurrent is the largest current expected; it sets the resolution
	// (MaxCurrent/32768 per bit). 0 means 3.2 A.
	MaxCurrent physic.ElectricCurrent
	// Now stamps the fields; nil means time.Now.
	Now func() time.Time
}

// INA219 reads the bus voltage (V), the current through the shunt (A) and
// the power (W) through periph's ina219 driver.
type INA219 struct {
	*i2cDev
	dev *ina219.Dev
	bus i2c.Bus
}

// Field specs of the INA219 driver.
var (
	inaVoltage = FieldSpec{Name: "Voltage", Kind: KindNumeric, Unit: "V", Decimals: 3, Types: Momentary}
	inaCurrent = FieldSpec{Name: "Current", Kind: KindNumeric, Unit: "A", Decimals: 4, Types: Momentary}
	inaPower   = FieldSpec{Name: "Power", Kind: KindNumeric, Unit: "W", Decimals: 3, Types: Momentary}
)

// NewINA219 writes the calibration and configuration registers of the chip
// at opts.Addr on bus.
func NewINA219(bus i2c.Bus, opts INA219Opts) (*INA219, error) {
	addr := opts.Addr
	if addr == 0 {
		addr = 0x40
	}
	d := newI2CDev("ina219", bus.String(), addr, opts.Node, opts.Now)
	if addr < 0x40 || addr > 0x4f {
		return nil, d.wrap("", fmt.Errorf("address out of range 0x40..0x4f (set by A0 and A1)"))
	}
	if opts.Shunt < 0 || opts.MaxCurrent < 0 {
		return nil, d.wrap("", fmt.Errorf("shunt %v and max current %v must be positive", opts.Shunt, opts.MaxCurrent))
	}
	dev, err := ina219.New(bus, &ina219.Opts{Address: int(addr), SenseResistor: opts.Shunt, MaxCurrent: opts.MaxCurrent})
	if err != nil {
		return nil, d.wrap("calibration", err)
	}
	return &INA219{i2cDev: d, dev: dev, bus: bus}, nil
}

// String names the chip, the bus and the address.
func (s *INA219) String() string { return fmt.Sprintf("INA219{%s(%#x)}", s.bus, s.addr) }

// Fields lists Voltage, Current and Power.
func (s *INA219) Fields() []FieldSpec { return []FieldSpec{inaVoltage, inaCurrent, inaPower} }

// Read reads the shunt, bus, current and power registers.
func (s *INA219) Read(ctx context.Context, types ReadoutType) ([]Field, error) {
	if skip, err := skipRead(ctx, types, Momentary); skip || err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	pm, err := s.dev.Sense()
	if err != nil {
		// periph replaces the bus error with its own text ("failed to read
		// shunt voltage"); read the bus voltage register again to learn
		// the cause.
		var b [2]byte
		if perr := s.bus.Tx(s.addr, []byte{0x02}, b[:]); perr != nil {
			err = fmt.Errorf("%w: %w", err, perr)
		}
		return nil, s.wrap("read", err)
	}
	ts := s.now()
	return []Field{
		inaVoltage.Field(s.node, Numeric(float64(pm.Voltage)/float64(physic.Volt)), ts, QoSAutomaticReadout),
		inaCurrent.Field(s.node, Numeric(float64(pm.Current)/float64(physic.Ampere)), ts, QoSAutomaticReadout),
		inaPower.Field(s.node, Numeric(float64(pm.Power)/float64(physic.Watt)), ts, QoSAutomaticReadout),
	}, nil
}

// Halt does nothing: the INA219 converts continuously.
func (s *INA219) Halt() error { return nil }
