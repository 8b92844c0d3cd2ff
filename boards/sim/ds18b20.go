package sim

import (
	"fmt"
	"math"
	"sync"

	"periph.io/x/conn/v3/onewire"
)

// ds18b20Bus is a onewire.Bus with one DS18B20 at DS18B20Addr, emulated at
// the command level (datasheet 19-7487 ROM and function commands): Match
// ROM and Skip ROM, Convert T (0x44), Read Scratchpad (0xBE), Write
// Scratchpad (0x4E), Copy Scratchpad (0x48) and Recall E² (0xB8). The
// scratchpad carries a correct CRC; an unmatched ROM code reads as all
// ones, like a bus with nobody answering.
type ds18b20Bus struct {
	b *Board

	mu   sync.Mutex
	spad [9]byte
	ee   [3]byte // TH, TL, config in EEPROM
}

func newDS18B20Bus(b *Board) *ds18b20Bus {
	d := &ds18b20Bus{b: b, ee: [3]byte{0x4b, 0x46, 0x7f}}
	// Power-on: +85 °C, EEPROM recalled, 12 bits.
	d.spad = [9]byte{0x50, 0x05, d.ee[0], d.ee[1], d.ee[2], 0xff, 0x0c, 0x10}
	d.spad[8] = onewire.CalcCRC(d.spad[:8])
	return d
}

// String names the bus.
func (d *ds18b20Bus) String() string { return "sim-onewire" }

// Search returns the one device; it has no alarm set.
func (d *ds18b20Bus) Search(alarmOnly bool) ([]onewire.Address, error) {
	if alarmOnly {
		return nil, nil
	}
	return []onewire.Address{DS18B20Addr}, nil
}

// Tx emulates a reset, a ROM command and a function command.
func (d *ds18b20Bus) Tx(w, r []byte, _ onewire.Pullup) error {
	if len(w) == 0 {
		return fmt.Errorf("sim-onewire: empty transaction")
	}
	var cmd []byte
	switch w[0] {
	case 0xCC: // Skip ROM
		cmd = w[1:]
	case 0x55: // Match ROM
		if len(w) < 9 {
			return fmt.Errorf("sim-onewire: match ROM needs 8 address bytes")
		}
		var a onewire.Address
		for i := 8; i >= 1; i-- {
			a = a<<8 | onewire.Address(w[i])
		}
		if a != DS18B20Addr {
			for i := range r {
				r[i] = 0xff // nobody drives the bus
			}
			return nil
		}
		cmd = w[9:]
	default:
		return fmt.Errorf("sim-onewire: unsupported ROM command %#x", w[0])
	}
	if len(cmd) == 0 {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	switch cmd[0] {
	case 0x44: // Convert T
		d.convert()
	case 0xBE: // Read Scratchpad
		copy(r, d.spad[:])
		for i := len(d.spad); i < len(r); i++ {
			r[i] = 0xff
		}
	case 0x4E: // Write Scratchpad: TH, TL, config
		if len(cmd) != 4 {
			return fmt.Errorf("sim-onewire: write scratchpad needs 3 bytes, got %d", len(cmd)-1)
		}
		d.spad[2], d.spad[3], d.spad[4] = cmd[1], cmd[2], cmd[3]&0x60|0x1f
		d.spad[8] = onewire.CalcCRC(d.spad[:8])
	case 0x48: // Copy Scratchpad
		copy(d.ee[:], d.spad[2:5])
	case 0xB8: // Recall E²
		copy(d.spad[2:5], d.ee[:])
		d.spad[8] = onewire.CalcCRC(d.spad[:8])
	default:
		return fmt.Errorf("sim-onewire: unsupported function command %#x", cmd[0])
	}
	return nil
}

// convert latches the water temperature at the configured resolution;
// the undefined low bits of coarser resolutions read as 0.
func (d *ds18b20Bus) convert() {
	bits := 9 + int(d.spad[4]>>5&3)
	raw := int16(math.Round(d.b.At(d.b.now()).Water * 16))
	raw &^= int16(1)<<(12-bits) - 1
	d.spad[0], d.spad[1] = byte(raw), byte(uint16(raw)>>8)
	d.spad[8] = onewire.CalcCRC(d.spad[:8])
}
