package sensors

import (
	"context"
	"fmt"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/devices/v3/bh1750"
)

// BH1750Opts configures a ROHM BH1750 ambient light sensor on I²C.
type BH1750Opts struct {
	// Node is the node id; "" means "bh1750-0x23" (with the address).
	Node string
	// Addr is 0x23 (ADDR low) or 0x5c (ADDR high); 0 means 0x23.
	Addr uint16
	// Now stamps the fields; nil means time.Now.
	Now func() time.Time
}

// BH1750 reads illuminance (lx) through periph's bh1750 driver in
// continuous high-resolution mode. periph divides the count by 1.2 in
// integers, so values have 1 lx steps.
type BH1750 struct {
	*i2cDev
	dev *bh1750.Dev
}

var bhLight = FieldSpec{Name: "Light", Kind: KindNumeric, Unit: "lx", Decimals: 0, Types: Momentary}

// NewBH1750 powers on and resets the chip at opts.Addr on bus.
func NewBH1750(bus i2c.Bus, opts BH1750Opts) (*BH1750, error) {
	addr := opts.Addr
	if addr == 0 {
		addr = 0x23
	}
	d := newI2CDev("bh1750", bus.String(), addr, opts.Node, opts.Now)
	if addr != 0x23 && addr != 0x5c {
		return nil, d.wrap("", fmt.Errorf("address must be 0x23 or 0x5c (set by the ADDR pin)"))
	}
	dev, err := bh1750.NewI2C(bus, addr)
	if err != nil {
		return nil, d.wrap("", err)
	}
	return &BH1750{i2cDev: d, dev: dev}, nil
}

// String names the chip, the bus and the address.
func (s *BH1750) String() string { return fmt.Sprintf("BH1750{%s(%#x)}", s.bus, s.addr) }

// Fields lists Light.
func (s *BH1750) Fields() []FieldSpec { return []FieldSpec{bhLight} }

// Read waits for one measurement (about 140 ms).
func (s *BH1750) Read(ctx context.Context, types ReadoutType) ([]Field, error) {
	if skip, err := skipRead(ctx, types, Momentary); skip || err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	flux, err := s.dev.Sense()
	if err != nil {
		return nil, s.wrap("read", err)
	}
	lux := float64(flux) / float64(physic.Lumen)
	return []Field{bhLight.Field(s.node, Numeric(lux), s.now(), QoSAutomaticReadout)}, nil
}

// Halt powers the chip down.
func (s *BH1750) Halt() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.dev.Halt(); err != nil {
		return s.wrap("power down", err)
	}
	return nil
}
