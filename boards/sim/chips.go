package sim

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync"
	"syscall"
)

// clamp rounds v and limits it to [lo, hi].
func clamp(v float64, lo, hi int64) int64 {
	return min(max(int64(math.Round(v)), lo), hi)
}

// ads1115 emulates a TI ADS1115 (datasheet SBAS444 §9.5, §9.6): the
// address pointer, the config register (a write with OS set runs one
// conversion at once) and the conversion register.
type ads1115 struct {
	b    *Board
	mu   sync.Mutex
	ptr  byte
	cfg  uint16
	conv int16
}

func newADS1115(b *Board) *ads1115 { return &ads1115{b: b, cfg: 0x8583} }

// ads1115FullScale is the ±range per PGA setting.
var ads1115FullScale = [8]float64{6.144, 4.096, 2.048, 1.024, 0.512, 0.256, 0.256, 0.256}

func (d *ads1115) Tx(_ uint16, w, r []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch len(w) {
	case 0:
	case 1:
		d.ptr = w[0] & 3
	case 3:
		d.ptr = w[0] & 3
		if d.ptr == 1 {
			d.cfg = binary.BigEndian.Uint16(w[1:])
			if d.cfg&0x8000 != 0 {
				d.convert()
			}
		}
	default:
		return fmt.Errorf("sim-i2c: ads1115 write of %d bytes", len(w))
	}
	var v uint16
	switch d.ptr {
	case 0:
		v = uint16(d.conv)
	case 1:
		v = d.cfg
	}
	for i := range r {
		r[i] = byte(v >> (8 * (1 - i%2)))
	}
	return nil
}

func (d *ads1115) convert() {
	in := [4]float64{TankVoltage(d.b.AmbientAt(d.b.now()).Tank), ADS1115Input1, 0, 0}
	var v float64
	switch mux := d.cfg >> 12 & 7; mux {
	case 0:
		v = in[0] - in[1]
	case 1:
		v = in[0] - in[3]
	case 2:
		v = in[1] - in[3]
	case 3:
		v = in[2] - in[3]
	default:
		v = in[mux-4]
	}
	fs := ads1115FullScale[d.cfg>>9&7]
	d.conv = int16(clamp(v/fs*32768, math.MinInt16, math.MaxInt16))
}

// ina219 emulates a TI INA219 (datasheet SBOS448 §8.6): configuration and
// calibration registers, and the shunt, bus, power and current registers
// computed from the board's supply as the chip does.
type ina219 struct {
	b    *Board
	mu   sync.Mutex
	regs [6]uint16
}

func newINA219(b *Board) *ina219 { return &ina219{b: b, regs: [6]uint16{0: 0x399f}} }

func (d *ina219) Tx(_ uint16, w, r []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(w) == 0 || w[0] > 5 {
		return fmt.Errorf("sim-i2c: ina219 needs a register pointer 0..5")
	}
	reg := w[0]
	switch len(w) {
	case 1:
	case 3:
		if reg == 0 || reg == 5 {
			d.regs[reg] = binary.BigEndian.Uint16(w[1:])
		}
		return nil
	default:
		return fmt.Errorf("sim-i2c: ina219 write of %d bytes", len(w))
	}
	a := d.b.AmbientAt(d.b.now())
	shunt := clamp(a.Load*INA219Shunt/10e-6, -32000, 32000) // 10 µV LSB
	bus := clamp(a.Supply/4e-3, 0, 8000)                    // 4 mV LSB
	cal := int64(d.regs[5])
	current := shunt * cal / 4096
	d.regs[1] = uint16(int16(shunt))
	d.regs[2] = uint16(bus<<3 | 2) // CNVR: conversion ready
	d.regs[4] = uint16(int16(current))
	d.regs[3] = uint16(current * bus / 5000)
	v := d.regs[reg]
	for i := range r {
		r[i] = byte(v >> (8 * (1 - i%2)))
	}
	return nil
}

// sensirionCRC is the CRC-8 (polynomial 0x31, initial 0xFF) of the AHT20
// and SCD4x.
func sensirionCRC(b []byte) byte {
	crc := byte(0xff)
	for _, x := range b {
		crc ^= x
		for range 8 {
			if crc&0x80 != 0 {
				crc = crc<<1 ^ 0x31
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// aht20 emulates an Aosong AHT20 (datasheet v1.1 §5.4): status (0x71),
// initialise (BE 08 00), trigger (AC 33 00) and the 7-byte result with CRC.
type aht20 struct {
	b    *Board
	mu   sync.Mutex
	data [7]byte
}

func newAHT20(b *Board) *aht20 { return &aht20{b: b, data: [7]byte{0x18}} }

func (d *aht20) Tx(_ uint16, w, r []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case len(w) == 0:
		copy(r, d.data[:])
	case w[0] == 0x71:
		if len(r) > 0 {
			r[0] = 0x18 // calibrated, idle
		}
	case w[0] == 0xbe, w[0] == 0xba:
	case w[0] == 0xac:
		c := d.b.At(d.b.now())
		h := uint32(clamp(c.Humidity/100*(1<<20), 0, 1<<20-1))
		t := uint32(clamp((c.Temperature+50)/200*(1<<20), 0, 1<<20-1))
		d.data = [7]byte{0x1c, byte(h >> 12), byte(h >> 4), byte(h<<4) | byte(t>>16), byte(t >> 8), byte(t)}
		d.data[6] = sensirionCRC(d.data[:6])
	default:
		return fmt.Errorf("sim-i2c: aht20 command %#x unsupported", w[0])
	}
	return nil
}

// bh1750 emulates a ROHM BH1750 (datasheet p.5 instruction set): power
// down, power on, reset and the measurement modes; a read returns the
// count, 1.2 counts per lx (2.4 in the 0.5 lx modes).
type bh1750 struct {
	b    *Board
	mu   sync.Mutex
	mode byte
}

func newBH1750(b *Board) *bh1750 { return &bh1750{b: b} }

func (d *bh1750) Tx(_ uint16, w, r []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(w) > 0 {
		switch op := w[0]; op {
		case 0x00, 0x01, 0x07:
		case 0x10, 0x11, 0x13, 0x20, 0x21, 0x23:
			d.mode = op
		default:
			return fmt.Errorf("sim-i2c: bh1750 opcode %#x unsupported", op)
		}
	}
	if len(r) > 0 {
		k := 1.2
		if d.mode == 0x11 || d.mode == 0x21 {
			k = 2.4
		}
		n := uint16(clamp(d.b.AmbientAt(d.b.now()).Light*k, 0, math.MaxUint16))
		for i := range r {
			r[i] = byte(n >> (8 * (1 - i%2)))
		}
	}
	return nil
}

// scd4x emulates a Sensirion SCD41 (datasheet §3.5–3.9): wake up, start and
// stop periodic measurement, data-ready status and read measurement, with
// a CRC after every word. Commands other than those NACK.
type scd4x struct {
	b       *Board
	mu      sync.Mutex
	running bool
}

func newSCD4x(b *Board) *scd4x { return &scd4x{b: b} }

func (d *scd4x) Tx(_ uint16, w, r []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(w) < 2 {
		return fmt.Errorf("sim-i2c: scd4x needs a 16-bit command")
	}
	var words []uint16
	switch cmd := binary.BigEndian.Uint16(w); cmd {
	case 0x36f6: // wake_up
	case 0x21b1: // start_periodic_measurement
		d.running = true
	case 0x3f86: // stop_periodic_measurement
		d.running = false
	case 0xe4b8: // get_data_ready_status
		words = []uint16{0x8000}
		if d.running {
			words[0] |= 0x006
		}
	case 0xec05: // read_measurement
		c, a := d.b.At(d.b.now()), d.b.AmbientAt(d.b.now())
		words = []uint16{
			uint16(clamp(a.CO2, 0, 40000)),
			uint16(clamp((c.Temperature+45)/175*65535, 0, 65535)),
			uint16(clamp(c.Humidity/100*65535, 0, 65535)),
		}
	default:
		return fmt.Errorf("sim-i2c: scd4x command %#04x unsupported", cmd)
	}
	var out []byte
	for _, x := range words {
		b := []byte{byte(x >> 8), byte(x)}
		out = append(out, b[0], b[1], sensirionCRC(b))
	}
	copy(r, out)
	return nil
}

// hdc302x emulates a TI HDC3022 (datasheet SNAS800 §8.5): the auto
// measurement commands, exit (0x3093) and the measurement readout
// (0xE000: temperature and humidity words, each with its CRC). Reading
// before auto measurement starts NACKs, as on the chip.
type hdc302x struct {
	b       *Board
	mu      sync.Mutex
	running bool
}

func newHDC302x(b *Board) *hdc302x { return &hdc302x{b: b} }

func (d *hdc302x) Tx(_ uint16, w, r []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(w) != 2 {
		return fmt.Errorf("sim-i2c: hdc302x needs a 16-bit command")
	}
	switch cmd := binary.BigEndian.Uint16(w); cmd {
	case 0x2032, 0x2130, 0x2236, 0x2334, 0x2737: // auto measurement, 0.5..10 Hz
		d.running = true
	case 0x3093: // exit auto measurement
		d.running = false
	case 0xe000: // measurement readout
		if !d.running {
			return fmt.Errorf("sim-i2c: %v", syscall.EREMOTEIO)
		}
		c := d.b.At(d.b.now())
		var out []byte
		for _, x := range []uint16{
			uint16(clamp((c.Temperature+45)/175*65535, 0, 65535)),
			uint16(clamp(c.Humidity/100*65535, 0, 65535)),
		} {
			b := []byte{byte(x >> 8), byte(x)}
			out = append(out, b[0], b[1], sensirionCRC(b))
		}
		copy(r, out)
	default:
		return fmt.Errorf("sim-i2c: hdc302x command %#04x unsupported", cmd)
	}
	return nil
}
