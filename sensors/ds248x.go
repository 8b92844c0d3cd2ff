package sensors

import (
	"fmt"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/onewire"
	"periph.io/x/devices/v3/ds248x"
)

// OpenDS248x opens a Maxim DS2482-100, DS2482-800 or DS2483 I²C to 1-Wire
// bridge at addr on bus through periph's ds248x driver, with an active
// pull-up. addr is one of 0x18, 0x19, 0x20 and 0x21 (the ones periph
// accepts); 0 means 0x18. The result is a 1-Wire bus for NewDS18B20 and
// FindDS18B20.
func OpenDS248x(bus i2c.Bus, addr uint16) (onewire.Bus, error) {
	if addr == 0 {
		addr = 0x18
	}
	o := ds248x.DefaultOpts
	dev, err := ds248x.New(bus, addr, &o)
	if err != nil {
		return nil, wrapBusError("ds248x", bus.String(), fmt.Sprintf("%#x", addr), err)
	}
	return dev, nil
}
