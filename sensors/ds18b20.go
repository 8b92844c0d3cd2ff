package sensors

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3/onewire"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/devices/v3/ds18b20"
)

// DS18B20Opts configures a Maxim DS18B20 on a 1-wire bus.
type DS18B20Opts struct {
	// Node is the node id; "" means "ds18b20-" and the 16 hex digit ROM code.
	Node string
	// Resolution is 9 to 12 bits; 0 means 12 (0.0625 °C).
	Resolution int
	// Conversion is how long to wait for a conversion; 0 means the
	// datasheet maximum for Resolution (93.75 ms at 9 bits to 750 ms at 12).
	Conversion time.Duration
	// Now stamps the fields; nil means time.Now.
	Now func() time.Time
}

// DS18B20 reads a 1-wire temperature sensor (°C) through periph's ds18b20
// driver, waiting for the conversion in a way that honours the context.
type DS18B20 struct {
	dev        *ds18b20.Dev
	ow         onewire.Dev
	node       string
	conversion time.Duration
	now        func() time.Time
	mu         sync.Mutex
}

var dsTemperature = FieldSpec{Name: "Temperature", Kind: KindNumeric, Unit: "°C", Decimals: 2, Types: Momentary}

// NewDS18B20 opens the DS18B20 with ROM code addr on bus and sets its
// resolution.
func NewDS18B20(bus onewire.Bus, addr onewire.Address, opts DS18B20Opts) (*DS18B20, error) {
	bits := opts.Resolution
	if bits == 0 {
		bits = 12
	}
	if bits < 9 || bits > 12 {
		return nil, fmt.Errorf("ds18b20 on %s addr %#016x: resolution %d bits out of range 9..12", bus, uint64(addr), bits)
	}
	dev, err := ds18b20.New(bus, addr, bits)
	if err != nil {
		return nil, wrapBusError("ds18b20", bus.String(), fmt.Sprintf("%#016x", uint64(addr)), err)
	}
	s := &DS18B20{
		dev: dev, ow: onewire.Dev{Bus: bus, Addr: addr}, node: opts.Node,
		conversion: opts.Conversion, now: nowOr(opts.Now),
	}
	if s.conversion == 0 {
		// Datasheet table 2: 93.75 ms doubling with each extra bit.
		s.conversion = 93750 * time.Microsecond << (bits - 9)
	}
	if s.node == "" {
		s.node = fmt.Sprintf("ds18b20-%016x", uint64(addr))
	}
	return s, nil
}

// String names the family, bus and ROM code.
func (s *DS18B20) String() string { return s.dev.String() }

// Node returns the node id of the sensor.
func (s *DS18B20) Node() string { return s.node }

// Fields lists Temperature.
func (s *DS18B20) Fields() []FieldSpec { return []FieldSpec{dsTemperature} }

// Read starts a conversion (Convert T with strong pull-up), waits for it
// and reads the scratchpad. Only momentary fields exist.
func (s *DS18B20) Read(ctx context.Context, types ReadoutType) ([]Field, error) {
	if types != 0 && !types.Intersects(Momentary) {
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	addr := fmt.Sprintf("%#016x", uint64(s.ow.Addr))
	if err := s.ow.TxPower([]byte{0x44}, nil); err != nil {
		return nil, wrapBusError("ds18b20 convert", s.ow.Bus.String(), addr, err)
	}
	if err := sleepCtx(ctx, s.conversion); err != nil {
		return nil, fmt.Errorf("ds18b20 on %s addr %s: waiting for conversion: %w", s.ow.Bus, addr, err)
	}
	t, err := s.dev.LastTemp()
	if err == nil && t == 85*physic.Celsius+physic.ZeroCelsius {
		// The power-on value of the scratchpad: periph v3.7.4's own check
		// compares against 85 K, so it never fires.
		err = errors.New("ds18b20: has not performed a temperature conversion (read the 85 °C power-on value)")
	}
	if err != nil {
		return nil, wrapBusError("ds18b20 read", s.ow.Bus.String(), addr, err)
	}
	return []Field{dsTemperature.Field(s.node, Numeric(celsius(t)), s.now(), QoSAutomaticReadout)}, nil
}

// Halt does nothing: the DS18B20 idles after each conversion.
func (s *DS18B20) Halt() error { return s.dev.Halt() }

// FindDS18B20 searches bus and returns the ROM codes of the DS18B20 and
// DS18S20 devices on it.
func FindDS18B20(bus onewire.Bus) ([]onewire.Address, error) {
	all, err := bus.Search(false)
	if err != nil {
		return nil, wrapBusError("1-wire search", bus.String(), "*", err)
	}
	var out []onewire.Address
	for _, a := range all {
		if f := ds18b20.Family(a & 0xff); f == ds18b20.DS18B20 || f == ds18b20.DS18S20 {
			out = append(out, a)
		}
	}
	return out, nil
}
