package sensors

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/devices/v3/bmxx80"
)

// BME280Opts configures a Bosch BME280, BMP280 or BMP180 on I²C.
type BME280Opts struct {
	// Node is the node id of the sensor; "" means "bme280-0x76" (or the
	// detected chip and the address).
	Node string
	// Addr is the I²C address, 0x76 or 0x77; 0 means 0x76.
	Addr uint16
	// Sense are the oversampling and filter settings; nil means
	// bmxx80.DefaultOpts.
	Sense *bmxx80.Opts
	// Now stamps the fields; nil means time.Now.
	Now func() time.Time
}

// BME280 reads temperature (°C), pressure (hPa) and, on a BME280, relative
// humidity (%) through periph's bmxx80 driver.
type BME280 struct {
	dev    *bmxx80.Dev
	bus    string
	addr   uint16
	node   string
	now    func() time.Time
	fields []FieldSpec
	mu     sync.Mutex
}

// Field specs of the BME280 driver.
var (
	bmeTemperature = FieldSpec{Name: "Temperature", Kind: KindNumeric, Unit: "°C", Decimals: 2, Types: Momentary}
	bmePressure    = FieldSpec{Name: "Pressure", Kind: KindNumeric, Unit: "hPa", Decimals: 2, Types: Momentary}
	bmeHumidity    = FieldSpec{Name: "Humidity", Kind: KindNumeric, Unit: "%", Decimals: 1, Types: Momentary}
)

// NewBME280 detects and configures the chip at opts.Addr on bus. The error
// names the bus, the address and the likely cause.
func NewBME280(bus i2c.Bus, opts BME280Opts) (*BME280, error) {
	addr := opts.Addr
	if addr == 0 {
		addr = 0x76
	}
	sense := opts.Sense
	if sense == nil {
		o := bmxx80.DefaultOpts
		sense = &o
	}
	dev, err := bmxx80.NewI2C(bus, addr, sense)
	if err != nil {
		return nil, wrapBusError("bmxx80", bus.String(), fmt.Sprintf("%#x", addr), err)
	}
	chip := strings.ToLower(strings.SplitN(dev.String(), "{", 2)[0])
	s := &BME280{dev: dev, bus: bus.String(), addr: addr, node: opts.Node, now: nowOr(opts.Now)}
	if s.node == "" {
		s.node = fmt.Sprintf("%s-%#x", chip, addr)
	}
	s.fields = []FieldSpec{bmeTemperature, bmePressure}
	if chip == "bme280" && sense.Humidity != bmxx80.Off {
		s.fields = append(s.fields, bmeHumidity)
	}
	return s, nil
}

// String names the chip, bus and address, e.g. "BME280{I2C1(118)}".
func (s *BME280) String() string { return s.dev.String() }

// Node returns the node id of the sensor.
func (s *BME280) Node() string { return s.node }

// Fields lists Temperature, Pressure and, on a BME280, Humidity.
func (s *BME280) Fields() []FieldSpec { return append([]FieldSpec(nil), s.fields...) }

// Read takes one forced-mode measurement. Only momentary fields exist, so a
// request for other types returns no fields and does not touch the bus.
func (s *BME280) Read(ctx context.Context, types ReadoutType) ([]Field, error) {
	if types != 0 && !types.Intersects(Momentary) {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var e physic.Env
	if err := s.dev.Sense(&e); err != nil {
		return nil, wrapBusError("bmxx80 read", s.bus, fmt.Sprintf("%#x", s.addr), err)
	}
	ts := s.now()
	out := make([]Field, 0, len(s.fields))
	for _, f := range s.fields {
		var v float64
		switch f.Name {
		case bmeTemperature.Name:
			v = celsius(e.Temperature)
		case bmePressure.Name:
			v = float64(e.Pressure) / float64(100*physic.Pascal)
		case bmeHumidity.Name:
			v = float64(e.Humidity) / float64(physic.PercentRH)
		}
		out = append(out, f.Field(s.node, Numeric(v), ts, QoSAutomaticReadout))
	}
	return out, nil
}

// Halt stops any continuous sensing of the chip.
func (s *BME280) Halt() error { return s.dev.Halt() }

// celsius converts a periph temperature to degrees Celsius.
func celsius(t physic.Temperature) float64 {
	return float64(t-physic.ZeroCelsius) / float64(physic.Celsius)
}
