package sim

import (
	"fmt"
	"math"
	"sort"
	"sync"
	"syscall"

	"periph.io/x/conn/v3/physic"
)

// bme280Cal is the calibration of the emulated chip. It is the trimming
// read from a real BME280 (the one periph's bmx280_test.go records), so the
// emulation exercises realistic coefficients.
var bme280Cal = [...]byte{
	// 0x88..0xA1: T1..T3, P1..P9, reserved, H1.
	0x10, 0x6e, 0x6c, 0x66, 0x32, 0x0, 0x5d, 0x95, 0xb8, 0xd5, 0xd0, 0xb, 0x77,
	0x1e, 0x9d, 0xff, 0xf9, 0xff, 0xac, 0x26, 0xa, 0xd8, 0xbd, 0x10, 0x0, 0x4b,
	// 0xE1..0xE7: H2..H6.
	0x6e, 0x1, 0x0, 0x13, 0x5, 0x0, 0x1e,
}

// bme280Bus is an i2c.Bus with one BME280 at BME280Addr, emulated at the
// register level (datasheet BST-BME280-DS002 §5): chip id, calibration,
// ctrl_hum/ctrl_meas/config, status and the ADC data registers, which are
// computed from the board's conditions when a measurement is triggered.
type bme280Bus struct {
	b   *Board
	cal calibration

	mu   sync.Mutex
	regs [256]byte
}

func newBME280Bus(b *Board) *bme280Bus {
	d := &bme280Bus{b: b}
	d.reset()
	n := copy(d.regs[0x88:], bme280Cal[:26])
	copy(d.regs[0xE1:], bme280Cal[n:])
	d.cal = newCalibration(d.regs[0x88:0xA2], d.regs[0xE1:0xE8])
	return d
}

// reset puts the volatile registers in their power-on state.
func (d *bme280Bus) reset() {
	d.regs[0xD0] = 0x60 // chip id: BME280
	for _, r := range []byte{0xF2, 0xF3, 0xF4, 0xF5} {
		d.regs[r] = 0
	}
	// Data registers read 0x80000 / 0x8000 until the first measurement.
	copy(d.regs[0xF7:], []byte{0x80, 0, 0, 0x80, 0, 0, 0x80, 0})
}

// String names the bus.
func (d *bme280Bus) String() string { return "sim-i2c" }

// SetSpeed accepts any speed.
func (d *bme280Bus) SetSpeed(physic.Frequency) error { return nil }

// Tx emulates one I²C transaction: a write of register/value pairs, or a
// register address followed by a read that auto-increments.
func (d *bme280Bus) Tx(addr uint16, w, r []byte) error {
	if addr != BME280Addr {
		// What Linux returns when nobody ACKs the address.
		return fmt.Errorf("sim-i2c: %v", syscall.EREMOTEIO)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(r) == 0 {
		if len(w)%2 != 0 {
			return fmt.Errorf("sim-i2c: bme280 write of %d bytes, want register/value pairs", len(w))
		}
		for i := 0; i < len(w); i += 2 {
			d.write(w[i], w[i+1])
		}
		return nil
	}
	if len(w) != 1 {
		return fmt.Errorf("sim-i2c: bme280 read needs one register byte, got %d", len(w))
	}
	reg := int(w[0])
	if reg <= 0xF7 && reg+len(r) > 0xF7 && d.regs[0xF4]&3 == 3 {
		d.measure() // normal mode: the registers hold a fresh sample
	}
	for i := range r {
		if reg+i < len(d.regs) {
			r[i] = d.regs[reg+i]
		} else {
			r[i] = 0xff
		}
	}
	return nil
}

func (d *bme280Bus) write(reg, v byte) {
	switch reg {
	case 0xE0:
		if v == 0xB6 {
			d.reset()
		}
	case 0xF2:
		d.regs[reg] = v & 7
	case 0xF4:
		d.regs[reg] = v
		if mode := v & 3; mode == 1 || mode == 2 {
			// Forced mode: measure once (instantly) and go back to sleep.
			d.measure()
			d.regs[reg] = v &^ 3
		}
	case 0xF5:
		d.regs[reg] = v
	}
}

// measure latches raw ADC words that the datasheet compensation turns into
// the board's conditions, honouring the oversampling settings (skipped
// measurements read 0x80000 / 0x8000, as on the chip).
func (d *bme280Bus) measure() {
	c := d.b.At(d.b.now())
	osrsT, osrsP, osrsH := d.regs[0xF4]>>5, d.regs[0xF4]>>2&7, d.regs[0xF2]&7
	tRaw, pRaw, hRaw := int32(0x80000), int32(0x80000), int32(0x8000)
	tFine := int32(0)
	if osrsT != 0 {
		tRaw = d.cal.rawTemperature(c.Temperature)
		_, tFine = d.cal.temperature(tRaw)
	}
	if osrsP != 0 && osrsT != 0 {
		pRaw = d.cal.rawPressure(c.Pressure, tFine)
	}
	if osrsH != 0 && osrsT != 0 {
		hRaw = d.cal.rawHumidity(c.Humidity, tFine)
	}
	copy(d.regs[0xF7:], []byte{
		byte(pRaw >> 12), byte(pRaw >> 4), byte(pRaw << 4),
		byte(tRaw >> 12), byte(tRaw >> 4), byte(tRaw << 4),
		byte(hRaw >> 8), byte(hRaw),
	})
}

// calibration holds the trimming parameters (datasheet §4.2.2).
type calibration struct {
	t1                             uint16
	t2, t3                         int16
	p1                             uint16
	p2, p3, p4, p5, p6, p7, p8, p9 int16
	h1, h3                         uint8
	h2, h4, h5                     int16
	h6                             int8
}

func newCalibration(tph, h []byte) calibration {
	le := func(i int) uint16 { return uint16(tph[i]) | uint16(tph[i+1])<<8 }
	return calibration{
		t1: le(0), t2: int16(le(2)), t3: int16(le(4)),
		p1: le(6), p2: int16(le(8)), p3: int16(le(10)), p4: int16(le(12)), p5: int16(le(14)),
		p6: int16(le(16)), p7: int16(le(18)), p8: int16(le(20)), p9: int16(le(22)),
		h1: tph[25],
		h2: int16(uint16(h[0]) | uint16(h[1])<<8), h3: h[2],
		h4: int16(h[3])<<4 | int16(h[4]&0xF),
		h5: int16(h[4]>>4) | int16(int8(h[5]))<<4,
		h6: int8(h[6]),
	}
}

// temperature is the datasheet's BME280_compensate_T_int32: 0.01 °C and
// t_fine.
func (c *calibration) temperature(raw int32) (int32, int32) {
	x := ((raw>>3 - int32(c.t1)<<1) * int32(c.t2)) >> 11
	y := ((((raw>>4 - int32(c.t1)) * (raw>>4 - int32(c.t1))) >> 12) * int32(c.t3)) >> 14
	fine := x + y
	return (fine*5 + 128) >> 8, fine
}

// pressure is BME280_compensate_P_int64: Pa in Q24.8.
func (c *calibration) pressure(raw, fine int32) int64 {
	x := int64(fine) - 128000
	y := x * x * int64(c.p6)
	y += (x * int64(c.p5)) << 17
	y += int64(c.p4) << 35
	x = (x*x*int64(c.p3))>>8 + (x*int64(c.p2))<<12
	x = ((int64(1)<<47 + x) * int64(c.p1)) >> 33
	if x == 0 {
		return 0
	}
	p := ((((1048576 - int64(raw)) << 31) - y) * 3125) / x
	x = (int64(c.p9) * (p >> 13) * (p >> 13)) >> 25
	y = (int64(c.p8) * p) >> 19
	return ((p + x + y) >> 8) + int64(c.p7)<<4
}

// humidity is bme280_compensate_H_int32: %RH in Q22.10.
func (c *calibration) humidity(raw, fine int32) int64 {
	x := fine - 76800
	x = ((((raw << 14) - (int32(c.h4) << 20) - (int32(c.h5) * x)) + 16384) >> 15) *
		(((((((x*int32(c.h6))>>10)*(((x*int32(c.h3))>>11)+32768))>>10)+2097152)*int32(c.h2) + 8192) >> 14)
	x -= ((((x >> 15) * (x >> 15)) >> 7) * int32(c.h1)) >> 4
	x = min(max(x, 0), 419430400)
	return int64(x >> 12)
}

// closest returns the raw word in [0, n) whose compensated value f is
// nearest to want; f must be monotonic (increasing or decreasing).
func closest(n int, want float64, f func(int32) float64) int32 {
	inc := f(int32(n-1)) >= f(0)
	i := sort.Search(n, func(i int) bool {
		if inc {
			return f(int32(i)) >= want
		}
		return f(int32(i)) <= want
	})
	best := int32(min(i, n-1))
	if i > 0 && math.Abs(f(int32(i-1))-want) <= math.Abs(f(best)-want) {
		best = int32(i - 1)
	}
	return best
}

func (c *calibration) rawTemperature(celsius float64) int32 {
	return closest(1<<20, celsius*100, func(r int32) float64 { t, _ := c.temperature(r); return float64(t) })
}

func (c *calibration) rawPressure(hPa float64, fine int32) int32 {
	return closest(1<<20, hPa*100*256, func(r int32) float64 { return float64(c.pressure(r, fine)) })
}

func (c *calibration) rawHumidity(rh float64, fine int32) int32 {
	return closest(1<<16, rh*1024, func(r int32) float64 { return float64(c.humidity(r, fine)) })
}
