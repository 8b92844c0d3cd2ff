package sensors

import (
	"context"
	"fmt"
	"periph.io/x/conn/v3/physic"
	"sync"
	"time"
)

// i2cDev is what the I²C drivers share: where the chip is, its node id,
// the clock that stamps fields and the lock that serialises reads.
type i2cDev struct {
	chip string // lower-case chip name, for errors
	bus  string
	addr uint16
	node string
	now  func() time.Time
	mu   sync.Mutex
}

func newI2CDev(chip, bus string, addr uint16, node string, now func() time.Time) *i2cDev {
	if node == "" {
		node = fmt.Sprintf("%s-%#x", chip, addr)
	}
	return &i2cDev{chip: chip, bus: bus, addr: addr, node: node, now: nowOr(now)}
}

// Node returns the node id of the sensor.
func (d *i2cDev) Node() string { return d.node }

// wrap names the chip, bus, address and likely cause of err.
func (d *i2cDev) wrap(what string, err error) error {
	if what == "" {
		what = d.chip
	} else {
		what = d.chip + " " + what
	}
	return wrapBusError(what, d.bus, fmt.Sprintf("%#x", d.addr), err)
}

// skipRead reports whether a request for types has nothing to read from a
// driver whose fields are all of type have, or the context is done.
func skipRead(ctx context.Context, types, have ReadoutType) (bool, error) {
	if types&AllTypes != 0 && !types.Intersects(have) {
		return true, nil
	}
	return false, ctx.Err()
}

// Field specs of the temperature and humidity chips (AHT20, HDC302x).
var (
	climateTemperature = FieldSpec{Name: "Temperature", Kind: KindNumeric, Unit: "°C", Decimals: 2, Types: Momentary}
	climateHumidity    = FieldSpec{Name: "Humidity", Kind: KindNumeric, Unit: "%", Decimals: 1, Types: Momentary}
)

func climateSpecs() []FieldSpec { return []FieldSpec{climateTemperature, climateHumidity} }

// climate takes one temperature and humidity measurement from a periph
// environment sensor and returns it as the two fields. The caller holds
// d.mu.
func (d *i2cDev) climate(dev interface{ Sense(*physic.Env) error }) ([]Field, error) {
	var e physic.Env
	if err := dev.Sense(&e); err != nil {
		return nil, d.wrap("read", err)
	}
	ts := d.now()
	return []Field{
		climateTemperature.Field(d.node, Numeric(celsius(e.Temperature)), ts, QoSAutomaticReadout),
		climateHumidity.Field(d.node, Numeric(float64(e.Humidity)/float64(physic.PercentRH)), ts, QoSAutomaticReadout),
	}, nil
}
