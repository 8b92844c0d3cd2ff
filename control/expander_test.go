package control

import (
	"fmt"
	"sync"
	"testing"

	"periph.io/x/conn/v3/physic"
)

// chipBus is an I²C bus with register-file chips behind it: a write sets
// registers from the first byte's address on (auto-increment), a read
// returns them. Raw chips (PCF857x) have no register address: writes set
// the port, reads return it.
type chipBus struct {
	mu   sync.Mutex
	regs map[uint16]*[256]byte
	raw  map[uint16][]byte
}

func newChipBus() *chipBus {
	return &chipBus{regs: map[uint16]*[256]byte{}, raw: map[uint16][]byte{}}
}

func (b *chipBus) String() string                    { return "chipbus" }
func (b *chipBus) SetSpeed(f physic.Frequency) error { return nil }

func (b *chipBus) Tx(addr uint16, w, r []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if port, ok := b.raw[addr]; ok {
		if len(w) > 0 {
			b.raw[addr] = append(port[:0], w...)
		}
		copy(r, b.raw[addr])
		return nil
	}
	regs := b.regs[addr]
	if regs == nil {
		return fmt.Errorf("chipbus: no device at %#x", addr)
	}
	if len(w) == 0 {
		return fmt.Errorf("chipbus: read without register address")
	}
	reg := w[0]
	for _, v := range w[1:] {
		regs[reg] = v
		reg++
	}
	for i := range r {
		r[i] = regs[reg]
		reg++
	}
	return nil
}

func (b *chipBus) reg(addr uint16, reg byte) byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.regs[addr][reg]
}

func TestExpanderOutputs(t *testing.T) {
	bus := newChipBus()
	bus.regs[0x40] = &[256]byte{}           // PCA9685
	bus.regs[0x20] = &[256]byte{0xff, 0xff} // MCP23017, all pins inputs at reset
	bus.raw[0x21] = []byte{0xff}            // PCF8574
	exp := NewExpanders(bus, nil)
	pts := func(pin string, pwm bool) Point {
		p, err := exp.Lookup(pin)
		if err != nil {
			t.Fatal(err)
		}
		if pwm {
			out, _ := NewPWM(p, 0, false)
			return Point{Param: Param{Name: "Dim", Type: TypeDouble, Min: Double(0), Max: Double(100)}, Output: out, Safety: Safety{Failsafe: Double(0)}}
		}
		out, _ := NewRelay(p, false)
		return Point{Param: Param{Name: pin, Type: TypeBoolean}, Output: out, Safety: Safety{Failsafe: Bool(false)}}
	}
	c, err := New([]Point{
		pts("pca9685@0x40:2", true),
		pts("pca9685@0x40:3", false),
		pts("mcp23017@0x20:9", false),
		pts("pcf8574@0x21:4", false),
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	set := func(name string, v Value) {
		t.Helper()
		if err := set(t, c, name, v); err != nil {
			t.Fatal(err)
		}
	}
	// PCA9685 channel n has LEDn_ON_L at 6+4n; FULL_ON is bit 4 of ON_H,
	// FULL_OFF bit 4 of OFF_H.
	const led2, led3 = 6 + 8, 6 + 12
	if bus.reg(0x40, led3+3)&0x10 == 0 {
		t.Error("pca9685 relay channel not full-off at boot")
	}
	set("pca9685@0x40:3", Bool(true))
	if bus.reg(0x40, led3+1)&0x10 == 0 || bus.reg(0x40, led3+3)&0x10 != 0 {
		t.Errorf("pca9685 relay channel not full-on: ON_H %#x OFF_H %#x", bus.reg(0x40, led3+1), bus.reg(0x40, led3+3))
	}
	set("Dim", Double(50))
	off := int(bus.reg(0x40, led2+2)) | int(bus.reg(0x40, led2+3))<<8
	if off != 2048 {
		t.Errorf("pca9685 50%% duty: OFF count %d, want 2048", off)
	}
	if pre := bus.reg(0x40, 0xFE); pre < 120 || pre > 123 {
		t.Errorf("pca9685 prescale %d, want about 25 MHz/4096/50 Hz", pre)
	}
	// MCP23017 pin 9 is GPB1: IODIRB bit 1 cleared, OLATB bit 1 set.
	set("mcp23017@0x20:9", Bool(true))
	if bus.reg(0x20, 0x01)&0x02 != 0 || bus.reg(0x20, 0x15)&0x02 == 0 {
		t.Errorf("mcp23017 GPB1: IODIRB %#x OLATB %#x", bus.reg(0x20, 0x01), bus.reg(0x20, 0x15))
	}
	set("pcf8574@0x21:4", Bool(true))
	set("pcf8574@0x21:4", Bool(false))
	if p := bus.raw[0x21][0]; p&0x10 != 0 {
		t.Errorf("pcf8574 port %#x, want bit 4 low", p)
	}
	for _, bad := range []string{"pca9685@0x40", "pca9685@0x40:16", "mcp23017@0x20:16", "foo@0x20:1", "pcf8574@0x22:1x", "GPIO17"} {
		if _, err := exp.Lookup(bad); err == nil {
			t.Errorf("Lookup(%q) succeeded", bad)
		}
	}
	if p, err := exp.Lookup("pca9685@0x40:3"); err != nil || p.(*pcaPin).freq != 50*physic.Hertz {
		t.Errorf("pin cache: %v %v", p, err)
	}
}
