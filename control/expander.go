package control

import (
	"fmt"
	"strconv"
	"strings"
	"sync"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/devices/v3/mcp23xxx"
	"periph.io/x/devices/v3/pca9685"
	"periph.io/x/devices/v3/pcf857x"
)

// Expanders finds output pins on I²C chips, named "chip@address:channel":
// pca9685@0x40:3 (16-channel PWM controller: PWM outputs, or relays at
// 0/100 %), mcp23008/mcp23017@0x20:9 (GPIO expanders, pins numbered from 0
// across ports) and pcf8574/pcf8575@0x20:4. Each chip is opened through
// periph.io/x/devices/v3 on first use and shared by its pins. Other names
// go to the board's own pins. Its methods are safe for concurrent use.
type Expanders struct {
	bus  i2c.Bus
	next func(name string) gpio.PinIO

	mu   sync.Mutex
	devs map[string]any // "chip@addr" → *pca9685.Dev, *mcp23xxx.Dev, *pcf857x.Dev
	pins map[string]gpio.PinIO
}

// NewExpanders returns a pin finder for chips on bus that hands other
// names to board (nil for none).
func NewExpanders(bus i2c.Bus, board func(name string) gpio.PinIO) *Expanders {
	return &Expanders{bus: bus, next: board, devs: map[string]any{}, pins: map[string]gpio.PinIO{}}
}

// Pins returns e as a PinFunc for Points.
func (e *Expanders) Pins() PinFunc { return e.Lookup }

// Lookup returns the pin called name.
func (e *Expanders) Lookup(name string) (gpio.PinIO, error) {
	chip, rest, ok := strings.Cut(name, "@")
	if !ok {
		if e.next != nil {
			if p := e.next(name); p != nil {
				return p, nil
			}
		}
		return nil, fmt.Errorf("pin %q not found on this board", name)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if p := e.pins[name]; p != nil {
		return p, nil
	}
	addrText, chText, ok := strings.Cut(rest, ":")
	addr, err1 := strconv.ParseUint(addrText, 0, 7)
	ch, err2 := strconv.Atoi(chText)
	if !ok || err1 != nil || err2 != nil || ch < 0 {
		return nil, fmt.Errorf("pin %q: want chip@address:channel, e.g. pca9685@0x40:3", name)
	}
	if e.bus == nil {
		return nil, fmt.Errorf("pin %q: no I²C bus on this board", name)
	}
	chip = strings.ToLower(chip)
	key := chip + "@" + strconv.FormatUint(addr, 16)
	p, err := e.open(chip, key, uint16(addr), ch)
	if err != nil {
		return nil, fmt.Errorf("pin %q: %w", name, err)
	}
	e.pins[name] = p
	return p, nil
}

// open returns channel ch of the chip at addr, opening the chip once;
// callers hold e.mu.
func (e *Expanders) open(chip, key string, addr uint16, ch int) (gpio.PinIO, error) {
	dev := e.devs[key]
	switch chip {
	case "pca9685":
		if dev == nil {
			d, err := pca9685.NewI2C(e.bus, addr)
			if err != nil {
				return nil, fmt.Errorf("pca9685 at %#x: %w", addr, err)
			}
			dev = d
		}
		p, err := dev.(*pca9685.Dev).CreatePin(ch)
		if err != nil {
			return nil, err
		}
		e.devs[key] = dev
		return &pcaPin{PinIO: p, freq: 50 * physic.Hertz}, nil
	case "mcp23008", "mcp23009", "mcp23017", "mcp23018":
		if dev == nil {
			d, err := mcp23xxx.NewI2C(e.bus, mcp23xxx.Variant(strings.ToUpper(chip)), addr)
			if err != nil {
				return nil, fmt.Errorf("%s at %#x: %w", chip, addr, err)
			}
			dev = d
		}
		var all []gpio.PinIO
		for _, port := range dev.(*mcp23xxx.Dev).Pins {
			for _, p := range port {
				all = append(all, p)
			}
		}
		if ch >= len(all) {
			return nil, fmt.Errorf("%s has pins 0..%d, not %d", chip, len(all)-1, ch)
		}
		e.devs[key] = dev
		return all[ch], nil
	case "pcf8574", "pcf8575":
		if dev == nil {
			d, err := pcf857x.New(e.bus, addr, pcf857x.Variant(strings.ToUpper(chip)))
			if err != nil {
				return nil, fmt.Errorf("%s at %#x: %w", chip, addr, err)
			}
			dev = d
		}
		pins := dev.(*pcf857x.Dev).Pins
		if ch >= len(pins) {
			return nil, fmt.Errorf("%s has pins 0..%d, not %d", chip, len(pins)-1, ch)
		}
		e.devs[key] = dev
		return pins[ch], nil
	}
	return nil, fmt.Errorf("unknown chip %q (pca9685, mcp23008, mcp23009, mcp23017, mcp23018, pcf8574, pcf8575)", chip)
}

// pcaPin adapts a PCA9685 channel: the driver's Out ignores the level and
// its PWM divides by a zero frequency, so Out becomes 0 or 100 % and a
// zero frequency keeps the last one (50 Hz, the driver's default, at
// first).
type pcaPin struct {
	gpio.PinIO
	mu   sync.Mutex
	freq physic.Frequency
}

func (p *pcaPin) Out(l gpio.Level) error {
	if l == gpio.High {
		return p.PWM(gpio.DutyMax, 0)
	}
	return p.PWM(0, 0)
}

func (p *pcaPin) PWM(d gpio.Duty, f physic.Frequency) error {
	p.mu.Lock()
	if f <= 0 {
		f = p.freq
	}
	p.freq = f
	p.mu.Unlock()
	return p.PinIO.PWM(d, f)
}
