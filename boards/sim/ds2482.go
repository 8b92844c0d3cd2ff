package sim

import (
	"fmt"
	"sync"
	"syscall"

	"periph.io/x/conn/v3/onewire"
)

// ds2482 emulates a Maxim DS2482-100 I²C to 1-Wire bridge (datasheet
// 19-5342 command set) in front of the board's 1-Wire segment: Device
// Reset, Set Read Pointer (status, data and configuration registers only,
// so drivers detect a -100), Write Configuration, 1-Wire Reset, Write
// Byte, Read Byte and Triplet. Bytes written after a 1-Wire reset are
// collected and played on the segment as one transaction when the first
// byte is read or at the next reset; the search ROM command is answered
// bit by bit through Triplet.
type ds2482 struct {
	b *Board

	mu     sync.Mutex
	ptr    byte // read pointer: 0xf0 status, 0xe1 data, 0xc3 configuration
	status byte
	data   byte
	config byte

	w      []byte // bytes written since the last 1-Wire reset
	r      []byte // bytes answered by the segment, once played
	played bool
	search []onewire.Address // devices still matching during a search
	bit    int               // next search bit
}

func newDS2482(b *Board) *ds2482 {
	return &ds2482{b: b, ptr: 0xf0, status: 0x18}
}

// Status register bits.
const (
	dsPPD = 0x02 // presence pulse detected
	dsRST = 0x10 // device reset
	dsLL  = 0x08 // logic level of the line
	dsSBR = 0x20 // single bit result
	dsTSB = 0x40 // triplet second bit
	dsDIR = 0x80 // branch direction taken
)

func (d *ds2482) Tx(_ uint16, w, r []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(w) > 0 {
		if err := d.command(w); err != nil {
			return err
		}
	}
	for i := range r {
		switch d.ptr {
		case 0xf0:
			r[i] = d.status
		case 0xe1:
			r[i] = d.data
		case 0xc3:
			r[i] = d.config
		}
	}
	return nil
}

func (d *ds2482) command(w []byte) error {
	arg := func() (byte, error) {
		if len(w) != 2 {
			return 0, fmt.Errorf("sim-i2c: ds2482 command %#x needs one parameter byte", w[0])
		}
		return w[1], nil
	}
	switch w[0] {
	case 0xf0: // Device Reset
		d.status, d.config, d.ptr = dsRST|dsLL, 0, 0xf0
		d.w, d.r, d.played = nil, nil, false
	case 0xe1: // Set Read Pointer
		p, err := arg()
		if err != nil {
			return err
		}
		if p != 0xf0 && p != 0xe1 && p != 0xc3 {
			// A DS2482-100 NACKs the pointer codes of the -800 and DS2483.
			return fmt.Errorf("sim-i2c: %v", syscall.EREMOTEIO)
		}
		d.ptr = p
	case 0xd2: // Write Configuration: upper nibble is the complement
		c, err := arg()
		if err != nil {
			return err
		}
		if c>>4 != ^c&0x0f {
			return fmt.Errorf("sim-i2c: %v", syscall.EREMOTEIO)
		}
		d.config, d.ptr = c&0x0f, 0xc3
		d.status &^= dsRST
	case 0xb4: // 1-Wire Reset
		d.flush()
		d.w, d.r, d.played, d.search, d.bit = nil, nil, false, nil, 0
		d.status = dsLL
		if devs, _ := d.segment().Search(false); len(devs) > 0 {
			d.status |= dsPPD
		}
		d.ptr = 0xf0
	case 0xa5: // 1-Wire Write Byte
		v, err := arg()
		if err != nil {
			return err
		}
		d.w = append(d.w, v)
		d.ptr = 0xf0
	case 0x96: // 1-Wire Read Byte
		if !d.played {
			d.r = make([]byte, 32)
			if err := d.play(d.r); err != nil {
				return err
			}
		}
		d.data = 0xff
		if len(d.r) > 0 {
			d.data, d.r = d.r[0], d.r[1:]
		}
		d.ptr = 0xf0
	case 0x78: // 1-Wire Triplet
		dir, err := arg()
		if err != nil {
			return err
		}
		d.triplet(dir >> 7)
		d.ptr = 0xf0
	default:
		return fmt.Errorf("sim-i2c: ds2482 command %#x unsupported", w[0])
	}
	return nil
}

// segment is the board's 1-Wire bus; the board builds it after the I²C
// bus, so it is looked up on use.
func (d *ds2482) segment() onewire.Bus { return d.b.ow }

// play runs the collected bytes on the segment once.
func (d *ds2482) play(r []byte) error {
	d.played = true
	if len(d.w) == 0 || d.w[0] == 0xf0 || d.w[0] == 0xec {
		return nil // nothing, or a search answered by triplets
	}
	return d.segment().Tx(d.w, r, onewire.WeakPullup)
}

// flush plays bytes written and not yet played (a Convert T).
func (d *ds2482) flush() {
	if !d.played {
		_ = d.play(nil)
	}
}

// triplet answers one search step: the wired-AND of the devices' bit and
// of its complement, then follows dir where both occur.
func (d *ds2482) triplet(dir byte) {
	if d.bit == 0 {
		d.played = true
		d.search, _ = d.segment().Search(len(d.w) > 0 && d.w[0] == 0xec)
	}
	var zero, one bool
	for _, a := range d.search {
		if a>>d.bit&1 == 0 {
			zero = true
		} else {
			one = true
		}
	}
	d.status = dsLL
	if !zero {
		d.status |= dsSBR
	}
	if !one {
		d.status |= dsTSB
	}
	taken := dir
	switch {
	case zero && !one:
		taken = 0
	case one && !zero:
		taken = 1
	}
	if taken == 1 {
		d.status |= dsDIR
	}
	kept := d.search[:0]
	for _, a := range d.search {
		if byte(a>>d.bit&1) == taken {
			kept = append(kept, a)
		}
	}
	d.search = kept
	d.bit++
}
