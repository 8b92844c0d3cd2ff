package sensors

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/devices/v3/ads1x15"
)

// Linear maps a measured quantity to a physical value along the straight
// line through (X0, Y0) and (X1, Y1): a 0.5–4.5 V pressure transducer for
// 0–10 bar is Linear{X0: 0.5, X1: 4.5, Y0: 0, Y1: 10}. The zero Linear is
// unset.
type Linear struct {
	X0, X1, Y0, Y1 float64
}

// IsZero reports whether no scale is set.
func (l Linear) IsZero() bool { return l == Linear{} }

// Check reports why the scale cannot be applied, or nil.
func (l Linear) Check() error {
	for _, v := range []float64{l.X0, l.X1, l.Y0, l.Y1} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("scale: %v is not a finite number", v)
		}
	}
	if l.X0 == l.X1 {
		return fmt.Errorf("scale: both points have the same input %v", l.X0)
	}
	return nil
}

// Apply returns the physical value for the measured x.
func (l Linear) Apply(x float64) float64 {
	return l.Y0 + (x-l.X0)*(l.Y1-l.Y0)/(l.X1-l.X0)
}

// ADS1x15Opts configures one input of a TI ADS1115 (16 bits) or ADS1015
// (12 bits) analog-to-digital converter on I²C.
type ADS1x15Opts struct {
	// Node is the node id; "" means the chip, the address and the input,
	// e.g. "ads1115-0x48-0".
	Node string
	// Chip is "ads1115" or "ads1015"; "" means "ads1115".
	Chip string
	// Addr is the I²C address, 0x48 to 0x4b; 0 means 0x48.
	Addr uint16
	// Input is the channel: "0" to "3" against ground, or the differential
	// pairs "0-1", "0-3", "1-3", "2-3"; "" means "0".
	Input string
	// FullScale is the largest voltage to measure; the driver picks the
	// smallest programmable gain range that covers it (6.144, 4.096, 2.048,
	// 1.024, 0.512 or 0.256 V). 0 means 4.096 V.
	FullScale physic.ElectricPotential
	// Scale turns the voltage into a physical value reported as the field
	// Name in Unit with Decimals; the zero Scale reports the voltage only.
	Scale    Linear
	Name     string // name of the scaled field; "" means "Value"
	Unit     string // unit of the scaled field
	Decimals int    // decimals of the scaled field
	// Now stamps the fields; nil means time.Now.
	Now func() time.Time
}

// ADS1x15 reads one input of an ADS1115 or ADS1015 in single-shot mode
// through periph's ads1x15 driver and reports the voltage (V) and, with a
// scale, the physical value it stands for.
type ADS1x15 struct {
	*i2cDev
	dev    *ads1x15.Dev
	pin    ads1x15.PinADC
	input  string
	scale  Linear
	fields []FieldSpec
}

var adsVoltage = FieldSpec{Name: "Voltage", Kind: KindNumeric, Unit: "V", Decimals: 4, Types: Momentary}

// ads1x15Inputs maps input names to periph channels.
var ads1x15Inputs = map[string]ads1x15.Channel{
	"0": ads1x15.Channel0, "1": ads1x15.Channel1, "2": ads1x15.Channel2, "3": ads1x15.Channel3,
	"0-1": ads1x15.Channel0Minus1, "0-3": ads1x15.Channel0Minus3,
	"1-3": ads1x15.Channel1Minus3, "2-3": ads1x15.Channel2Minus3,
}

// NewADS1x15 prepares the single-shot conversion of opts.Input. It does not
// touch the bus: the first Read does.
func NewADS1x15(bus i2c.Bus, opts ADS1x15Opts) (*ADS1x15, error) {
	addr := opts.Addr
	if addr == 0 {
		addr = ads1x15.I2CAddr
	}
	chip := strings.ToLower(opts.Chip)
	if chip == "" {
		chip = "ads1115"
	}
	input := opts.Input
	if input == "" {
		input = "0"
	}
	where := fmt.Sprintf("%s on %s addr %#x", chip, bus, addr)
	if addr < 0x48 || addr > 0x4b {
		return nil, fmt.Errorf("%s: address out of range 0x48..0x4b (set by the ADDR pin)", where)
	}
	ch, ok := ads1x15Inputs[input]
	if !ok {
		return nil, fmt.Errorf("%s: unknown input %q (want 0, 1, 2, 3, 0-1, 0-3, 1-3 or 2-3)", where, input)
	}
	if !opts.Scale.IsZero() {
		if err := opts.Scale.Check(); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
	}
	fs := opts.FullScale
	if fs == 0 {
		fs = 4096 * physic.MilliVolt
	}
	o := ads1x15.Opts{I2cAddress: addr}
	var dev *ads1x15.Dev
	var err error
	switch chip {
	case "ads1115":
		dev, err = ads1x15.NewADS1115(bus, &o)
	case "ads1015":
		dev, err = ads1x15.NewADS1015(bus, &o)
	default:
		return nil, fmt.Errorf("%s: unknown chip (want ads1115 or ads1015)", where)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	// SaveEnergy picks the fastest data rate, so a read waits the shortest.
	pin, err := dev.PinForChannel(ch, fs, physic.Hertz, ads1x15.SaveEnergy)
	if err != nil {
		return nil, fmt.Errorf("%s: full scale %v: %w", where, fs, err)
	}
	node := opts.Node
	if node == "" {
		node = fmt.Sprintf("%s-%#x-%s", chip, addr, input)
	}
	s := &ADS1x15{
		i2cDev: newI2CDev(chip, bus.String(), addr, node, opts.Now),
		dev:    dev, pin: pin, input: input, scale: opts.Scale,
		fields: []FieldSpec{adsVoltage},
	}
	if !opts.Scale.IsZero() {
		name := opts.Name
		if name == "" {
			name = "Value"
		}
		s.fields = append(s.fields, FieldSpec{
			Name: name, Kind: KindNumeric, Unit: opts.Unit, Decimals: opts.Decimals, Types: Momentary,
		})
	}
	return s, nil
}

// String names the chip, the bus, the address and the input.
func (s *ADS1x15) String() string {
	return fmt.Sprintf("%s{%s(%#x)/%s}", strings.ToUpper(s.chip), s.bus, s.addr, s.input)
}

// Fields lists Voltage and, with a scale, the scaled field.
func (s *ADS1x15) Fields() []FieldSpec { return append([]FieldSpec(nil), s.fields...) }

// Read runs one conversion.
func (s *ADS1x15) Read(ctx context.Context, types ReadoutType) ([]Field, error) {
	if skip, err := skipRead(ctx, types, Momentary); skip || err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sample, err := s.pin.Read()
	if err != nil {
		return nil, s.wrap("read input "+s.input, err)
	}
	ts := s.now()
	v := float64(sample.V) / float64(physic.Volt)
	out := []Field{adsVoltage.Field(s.node, Numeric(v), ts, QoSAutomaticReadout)}
	if len(s.fields) > 1 {
		out = append(out, s.fields[1].Field(s.node, Numeric(s.scale.Apply(v)), ts, QoSAutomaticReadout))
	}
	return out, nil
}

// Halt powers nothing down: single-shot conversions idle by themselves.
func (s *ADS1x15) Halt() error { return s.dev.Halt() }
