package sensors

import (
	"errors"
	"fmt"
	"sync"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/onewire"
	"periph.io/x/devices/v3/ds248x"
)

// OpenDS248x opens a Maxim DS2482-100, DS2482-800 or DS2483 I²C to 1-Wire
// bridge at addr on bus through periph's ds248x driver, with an active
// pull-up. addr is one of 0x18, 0x19, 0x20 and 0x21 (the ones periph
// accepts); 0 means 0x18. The result is a 1-Wire bus for NewDS18B20 and
// FindDS18B20.
//
// periph's driver stops for good after any I²C error; the bus returned
// here reinitialises the bridge on the next transaction instead, so a
// glitch on the I²C bus costs one reading, not the sensor.
func OpenDS248x(bus i2c.Bus, addr uint16) (onewire.Bus, error) {
	if addr == 0 {
		addr = 0x18
	}
	b := &ds248xBus{bus: bus, addr: addr}
	if err := b.open(); err != nil {
		return nil, err
	}
	return b, nil
}

// ds248xBus is a periph ds248x.Dev that is reopened after a persistent
// (I²C side) error.
type ds248xBus struct {
	bus  i2c.Bus
	addr uint16

	mu     sync.Mutex
	dev    *ds248x.Dev
	broken bool
}

func (b *ds248xBus) open() error {
	o := ds248x.DefaultOpts
	dev, err := ds248x.New(b.bus, b.addr, &o)
	if err != nil {
		return wrapBusError("ds248x", b.bus.String(), fmt.Sprintf("%#x", b.addr), err)
	}
	b.dev, b.broken = dev, false
	return nil
}

// use returns the bridge, reopened if the last error broke it.
func (b *ds248xBus) use() (*ds248x.Dev, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.broken {
		if err := b.open(); err != nil {
			return nil, err
		}
	}
	return b.dev, nil
}

// check marks the bridge broken after an error that is not a 1-Wire bus
// error (those leave the bridge working).
func (b *ds248xBus) check(err error) error {
	var be onewire.BusError
	if err != nil && !(errors.As(err, &be) && be.BusError()) {
		b.mu.Lock()
		b.broken = true
		b.mu.Unlock()
	}
	return err
}

// String names the chip and where it is, e.g. "DS2482-100{I2C1(24)}".
func (b *ds248xBus) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.dev.String()
}

// Tx runs a 1-Wire transaction through the bridge.
func (b *ds248xBus) Tx(w, r []byte, power onewire.Pullup) error {
	d, err := b.use()
	if err != nil {
		return err
	}
	return b.check(d.Tx(w, r, power))
}

// Search lists the devices on the bridge's 1-Wire side.
func (b *ds248xBus) Search(alarmOnly bool) ([]onewire.Address, error) {
	d, err := b.use()
	if err != nil {
		return nil, err
	}
	found, err := d.Search(alarmOnly)
	return found, b.check(err)
}
