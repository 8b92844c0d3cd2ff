package sensors

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/xiot/xiot/internal/config"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/onewire"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/devices/v3/hdc302x"
)

// Open opens one driver per entry of the sensors configuration section on
// hw, stamping fields with now (nil means time.Now). Every sensor returned
// is a *Configured. On error it halts what it opened and returns an error
// naming the entry (index, driver and file:line when known) and the cause.
func Open(cfgs []config.Sensor, hw Hardware, now func() time.Time) ([]Sensor, error) {
	o := opener{hw: hw, now: nowOr(now), bridges: make(map[string]onewire.Bus)}
	var out []Sensor
	nodes := make(map[string]int)
	fail := func(err error) ([]Sensor, error) {
		for _, s := range out {
			_ = s.Halt()
		}
		return nil, err
	}
	for i, c := range cfgs {
		where := fmt.Sprintf("sensors[%d] (%s)", i, c.Driver)
		if w := c.Where(); w != "" {
			where = w + ": " + where
		}
		if err := c.Validate(); err != nil {
			return fail(fmt.Errorf("%s: %w", where, err))
		}
		s, err := o.open(c)
		if err != nil {
			return fail(fmt.Errorf("%s: %w", where, err))
		}
		cs := newConfigured(s, c)
		if own := cs.ownTypes(); !cs.serves.Intersects(own | Historical) {
			_ = s.Halt()
			return fail(fmt.Errorf("%s: types %v: the %s driver reports %v fields, and no historical type is served", where, cs.serves, c.Driver, own))
		}
		if j, dup := nodes[cs.Node()]; dup {
			_ = s.Halt()
			return fail(fmt.Errorf("%s: node %q is also the node of sensors[%d]", where, cs.Node(), j))
		}
		nodes[cs.Node()] = i
		out = append(out, cs)
	}
	return out, nil
}

// opener opens drivers, sharing DS248x bridges between the DS18B20s
// behind them.
type opener struct {
	hw      Hardware
	now     func() time.Time
	bridges map[string]onewire.Bus
}

func (o *opener) open(c config.Sensor) (Sensor, error) {
	addr := func() (uint16, error) {
		if c.Address == "" {
			return 0, nil
		}
		return config.ParseI2CAddress(c.Address)
	}
	num := func(key string, unit float64) (float64, error) {
		v, ok := c.Options[key]
		if !ok {
			return 0, nil
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, fmt.Errorf("options.%s: %w", key, err)
		}
		return f * unit, nil
	}
	if o.hw == nil && c.Driver != config.DriverCPUTemp {
		return nil, errors.New("no hardware: the board is none")
	}
	switch c.Driver {
	case config.DriverCPUTemp:
		return NewCPUTemp(CPUTempOpts{Node: c.Node, Path: c.Options["path"], Now: o.now})
	case config.DriverGPIO, config.DriverPulse:
		pin := o.hw.Pin(c.Pin)
		if pin == nil {
			return nil, fmt.Errorf("no pin %q on this board (check the pin name against --list-hardware)", c.Pin)
		}
		pull := parsePull(c.Options["pull"])
		if c.Driver == config.DriverGPIO {
			inv, _ := strconv.ParseBool(c.Options["invert"])
			return NewDigitalInput(pin, DigitalInputOpts{Node: c.Node, Pull: pull, Invert: inv, Now: o.now})
		}
		ppk, err := num("pulses_per_kwh", 1)
		if err != nil {
			return nil, err
		}
		return NewPulseCounter(pin, PulseCounterOpts{Node: c.Node, PulsesPerKWh: ppk, Pull: pull, Now: o.now})
	case config.DriverDS18B20:
		rom, err := config.ParseOneWireAddress(c.Address)
		if err != nil {
			return nil, err
		}
		bus, err := o.oneWire(c)
		if err != nil {
			return nil, err
		}
		res, _ := strconv.Atoi(c.Options["resolution"])
		conv, _ := time.ParseDuration(c.Options["conversion"])
		return NewDS18B20(bus, onewire.Address(rom), DS18B20Opts{Node: c.Node, Resolution: res, Conversion: conv, Now: o.now})
	}
	// The I²C chips.
	a, err := addr()
	if err != nil {
		return nil, err
	}
	bus, err := o.hw.I2C(c.Bus)
	if err != nil {
		return nil, err
	}
	switch c.Driver {
	case config.DriverBME280:
		return NewBME280(bus, BME280Opts{Node: c.Node, Addr: a, Now: o.now})
	case config.DriverINA219:
		shunt, err := num("shunt", float64(physic.Ohm))
		if err != nil {
			return nil, err
		}
		maxI, err := num("max_current", float64(physic.Ampere))
		if err != nil {
			return nil, err
		}
		return NewINA219(bus, INA219Opts{Node: c.Node, Addr: a, Shunt: physic.ElectricResistance(shunt), MaxCurrent: physic.ElectricCurrent(maxI), Now: o.now})
	case config.DriverAHT20:
		if a != 0 && a != AHT20Addr {
			return nil, fmt.Errorf("the AHT20 answers at %#x only, not %#x", AHT20Addr, a)
		}
		return NewAHT20(bus, AHT20Opts{Node: c.Node, Now: o.now})
	case config.DriverHDC302x:
		rate := map[string]hdc302x.SampleRate{
			"": hdc302x.RateHalfHertz, "0.5": hdc302x.RateHalfHertz, "1": hdc302x.RateHertz,
			"2": hdc302x.RateTwoHertz, "4": hdc302x.RateFourHertz, "10": hdc302x.Rate10Hertz,
		}[c.Options["rate"]]
		return NewHDC302x(bus, HDC302xOpts{Node: c.Node, Addr: a, Rate: rate, Now: o.now})
	case config.DriverBH1750:
		return NewBH1750(bus, BH1750Opts{Node: c.Node, Addr: a, Now: o.now})
	case config.DriverSCD4x:
		if a != 0 && a != SCD4xAddr {
			return nil, fmt.Errorf("the SCD4x answers at %#x only, not %#x", SCD4xAddr, a)
		}
		return NewSCD4x(bus, SCD4xOpts{Node: c.Node, Now: o.now})
	case config.DriverADS1x15:
		fs, err := num("full_scale", float64(physic.Volt))
		if err != nil {
			return nil, err
		}
		opts := ADS1x15Opts{
			Node: c.Node, Chip: c.Options["chip"], Addr: a, Input: c.Options["input"],
			FullScale: physic.ElectricPotential(fs), Now: o.now,
		}
		if v, ok := c.Options["scale"]; ok {
			p, err := config.ParseScale(v)
			if err != nil {
				return nil, err
			}
			opts.Scale = Linear{X0: p[0], Y0: p[1], X1: p[2], Y1: p[3]}
		}
		return NewADS1x15(bus, opts)
	}
	return nil, fmt.Errorf("unknown driver %q", c.Driver)
}

// oneWire returns the native bus, or the DS248x bridge named by c.Bridge
// on the I²C bus c.Bus, opened once.
func (o *opener) oneWire(c config.Sensor) (onewire.Bus, error) {
	if c.Bridge == "" {
		return o.hw.OneWire(c.Bus)
	}
	a, err := config.ParseI2CAddress(c.Bridge)
	if err != nil {
		return nil, err
	}
	key := fmt.Sprintf("%s/%#x", c.Bus, a)
	if b, ok := o.bridges[key]; ok {
		return b, nil
	}
	i2cBus, err := o.hw.I2C(c.Bus)
	if err != nil {
		return nil, err
	}
	b, err := OpenDS248x(i2cBus, a)
	if err != nil {
		return nil, err
	}
	o.bridges[key] = b
	return b, nil
}

// parsePull maps the pull option; "" leaves the driver's default.
func parsePull(s string) gpio.Pull {
	switch s {
	case "up":
		return gpio.PullUp
	case "down":
		return gpio.PullDown
	case "float":
		return gpio.Float
	}
	return gpio.PullNoChange
}

// Configured is a sensor opened from a configuration entry: the driver
// with the entry's field overrides (name, unit, decimals) applied, the
// readout types it serves and its poll interval.
type Configured struct {
	s        Sensor
	cfg      config.Sensor
	serves   ReadoutType
	interval time.Duration
}

func newConfigured(s Sensor, c config.Sensor) *Configured {
	cs := &Configured{s: s, cfg: c, interval: c.PollInterval()}
	for _, t := range c.Types {
		bit, _ := ParseReadoutType(t) // validated by config
		cs.serves |= bit
	}
	if cs.serves == 0 {
		cs.serves = cs.ownTypes() | Historical
	}
	return cs
}

// ownTypes are the field types the driver reports.
func (c *Configured) ownTypes() ReadoutType {
	var t ReadoutType
	for _, f := range c.s.Fields() {
		t |= f.Types
	}
	return t
}

// Driver returns the underlying driver.
func (c *Configured) Driver() Sensor { return c.s }

// Config returns the configuration entry the sensor was opened from.
func (c *Configured) Config() config.Sensor { return c.cfg }

// Interval returns how often the sensor is polled for history.
func (c *Configured) Interval() time.Duration { return c.interval }

// Serves returns the readout types the node answers.
func (c *Configured) Serves() ReadoutType { return c.serves }

// String names the driver.
func (c *Configured) String() string { return c.s.String() }

// Node returns the node id.
func (c *Configured) Node() string { return c.s.Node() }

// Fields lists the driver's fields with the overrides applied, restricted
// to the types served.
func (c *Configured) Fields() []FieldSpec {
	var out []FieldSpec
	for _, f := range c.s.Fields() {
		if !f.Types.Intersects(c.serves) {
			continue
		}
		o := c.cfg.Fields[f.Name]
		if o.Name != "" {
			f.Name = o.Name
		}
		if o.Unit != "" {
			f.Unit = o.Unit
		}
		if d, ok := o.DecimalsOverride(); ok {
			f.Decimals = d
		}
		out = append(out, f)
	}
	return out
}

// Read reads the driver for the requested types that the node serves and
// applies the overrides. A request for types the node does not serve
// returns no fields without touching the hardware.
func (c *Configured) Read(ctx context.Context, types ReadoutType) ([]Field, error) {
	want := c.serves
	if types&AllTypes != 0 {
		want &= types
	}
	if want == 0 {
		return nil, ctx.Err()
	}
	fields, err := c.s.Read(ctx, want)
	if err != nil {
		return nil, err
	}
	return c.present(Filter(fields, want)), nil
}

// Sample reads every field the driver reports, whatever the node serves,
// with the overrides applied: what a history recorder stores, so that a
// node serving only historical types still has history.
func (c *Configured) Sample(ctx context.Context) ([]Field, error) {
	fields, err := c.s.Read(ctx, 0)
	if err != nil {
		return nil, err
	}
	return c.present(fields), nil
}

// present applies the field overrides.
func (c *Configured) present(fields []Field) []Field {
	for i := range fields {
		o, ok := c.cfg.Fields[fields[i].Name]
		if !ok {
			continue
		}
		if o.Name != "" {
			fields[i].Name = o.Name
		}
		if o.Unit != "" {
			fields[i].Unit = o.Unit
		}
		if d, ok := o.DecimalsOverride(); ok {
			fields[i].Decimals = d
		}
	}
	return fields
}

// Halt halts the driver.
func (c *Configured) Halt() error { return c.s.Halt() }
