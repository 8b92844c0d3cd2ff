package sensors

import (
	"context"
	"fmt"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/devices/v3/hdc302x"
)

// HDC302xOpts configures a TI HDC3020/HDC3021/HDC3022 temperature and
// humidity sensor on I²C.
type HDC302xOpts struct {
	// Node is the node id; "" means "hdc302x-0x44" (with the address).
	Node string
	// Addr is 0x44 to 0x47 (ADDR and ADDR1 pins); 0 means 0x44.
	Addr uint16
	// Rate is the auto-measurement rate; the zero value is periph's
	// RateHalfHertz. The datasheet advises at most 1 Hz against
	// self-heating. Opening waits one measurement period.
	Rate hdc302x.SampleRate
	// Now stamps the fields; nil means time.Now.
	Now func() time.Time
}

// HDC302x reads temperature (°C) and relative humidity (%) through
// periph's hdc302x driver, which keeps the chip measuring on its own and
// checks the CRC of every result.
type HDC302x struct {
	*i2cDev
	dev *hdc302x.Dev
}

// NewHDC302x starts auto measurement on the chip at opts.Addr on bus and
// waits for the first result.
func NewHDC302x(bus i2c.Bus, opts HDC302xOpts) (*HDC302x, error) {
	addr := opts.Addr
	if addr == 0 {
		addr = 0x44
	}
	d := newI2CDev("hdc302x", bus.String(), addr, opts.Node, opts.Now)
	if addr < 0x44 || addr > 0x47 {
		return nil, d.wrap("", fmt.Errorf("address out of range 0x44..0x47 (set by ADDR and ADDR1)"))
	}
	if opts.Rate > hdc302x.Rate10Hertz {
		return nil, d.wrap("", fmt.Errorf("unknown sample rate %d", opts.Rate))
	}
	dev, err := hdc302x.NewI2C(bus, addr, opts.Rate)
	if err != nil {
		return nil, d.wrap("start", err)
	}
	return &HDC302x{i2cDev: d, dev: dev}, nil
}

// String names the chip, the bus and the address.
func (s *HDC302x) String() string { return fmt.Sprintf("HDC302x{%s(%#x)}", s.bus, s.addr) }

// Fields lists Temperature and Humidity.
func (s *HDC302x) Fields() []FieldSpec { return climateSpecs() }

// Read fetches the latest automatic measurement.
func (s *HDC302x) Read(ctx context.Context, types ReadoutType) ([]Field, error) {
	if skip, err := skipRead(ctx, types, Momentary); skip || err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.climate(s.dev)
}

// Halt stops auto measurement.
func (s *HDC302x) Halt() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.dev.Halt(); err != nil {
		return s.wrap("stop", err)
	}
	return nil
}
