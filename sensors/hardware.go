package sensors

import (
	"errors"
	"fmt"
	"sync"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/conn/v3/onewire"
)

// Hardware gives Open the buses and pins the configuration names. A board
// implements it: boards/sim.Board for the simulated one, HostHardware for
// a real host through periph's registries.
type Hardware interface {
	// I2C returns the I²C bus called name; "" is the board's default.
	I2C(name string) (i2c.Bus, error)
	// OneWire returns the native 1-Wire bus called name; "" is the
	// default. (A bus behind a DS248x bridge is opened by Open.)
	OneWire(name string) (onewire.Bus, error)
	// Pin returns the GPIO called name, or nil when there is none.
	Pin(name string) gpio.PinIO
}

// HostHardware is Hardware on a real host through periph's registries
// (host.Init must have run). It keeps the I²C buses it opens until Close.
type HostHardware struct {
	mu    sync.Mutex
	buses map[string]i2c.BusCloser
}

// I2C opens the bus through i2creg ("1" is /dev/i2c-1, "" the first
// bus), once per name.
func (h *HostHardware) I2C(name string) (i2c.Bus, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if b, ok := h.buses[name]; ok {
		return b, nil
	}
	b, err := i2creg.Open(name)
	if err != nil {
		bus := name
		if bus == "" {
			bus = "the default I²C bus"
		}
		return nil, wrapBusError("open", bus, "-", err)
	}
	if h.buses == nil {
		h.buses = make(map[string]i2c.BusCloser)
	}
	h.buses[name] = b
	return b, nil
}

// OneWire fails: periph has no native 1-Wire master on Linux hosts, so
// DS18B20s are read through a DS248x bridge (the bridge key).
func (h *HostHardware) OneWire(name string) (onewire.Bus, error) {
	return nil, fmt.Errorf("1-wire bus %q: no native 1-Wire master on this host; wire a DS2482/DS2483 and set bridge", name)
}

// Pin returns the GPIO called name in gpioreg ("GPIO17", "17", …), or nil.
func (h *HostHardware) Pin(name string) gpio.PinIO { return gpioreg.ByName(name) }

// Close closes the buses opened by I2C.
func (h *HostHardware) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var errs []error
	for name, b := range h.buses {
		if err := b.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing I²C bus %q: %w", name, err))
		}
	}
	h.buses = nil
	return errors.Join(errs...)
}
