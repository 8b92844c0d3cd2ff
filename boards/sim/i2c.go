package sim

import (
	"fmt"
	"sync"
	"syscall"

	"periph.io/x/conn/v3/physic"
)

// Addresses of the simulated I²C parts besides the BME280.
const (
	// ADS1115Addr is the simulated ADS1115 ADC; input 0 carries a
	// 0.5–4.5 V pressure transducer for 0–10 bar (Ambient.Tank).
	ADS1115Addr = 0x48
	// INA219Addr is the simulated INA219 (0.1 Ω shunt) on the supply.
	INA219Addr = 0x40
	// AHT20Addr is the simulated AHT20 (fixed address).
	AHT20Addr = 0x38
	// HDC302xAddr is the simulated HDC3022 (ADDR and ADDR1 low).
	HDC302xAddr = 0x44
	// BH1750Addr is the simulated BH1750 (ADDR pin low).
	BH1750Addr = 0x23
	// SCD4xAddr is the simulated SCD41 (fixed address).
	SCD4xAddr = 0x62
	// DS2482Addr is the simulated DS2482-100 1-Wire bridge; its 1-Wire
	// side is the segment holding the DS18B20 at DS18B20Addr.
	DS2482Addr = 0x18
)

// i2cDevice is one chip on the simulated bus: a transaction addressed to
// it, already locked by nobody (each chip locks its own state).
type i2cDevice interface {
	Tx(addr uint16, w, r []byte) error
}

// i2cBus is the simulated I²C bus: it routes each transaction to the chip
// at its address, and fails like Linux (EREMOTEIO) when nobody answers.
type i2cBus struct {
	devs map[uint16]i2cDevice

	mu     sync.Mutex
	silent map[uint16]bool // chips that stopped answering
}

func newI2CBus(b *Board) *i2cBus {
	return &i2cBus{devs: map[uint16]i2cDevice{
		BME280Addr:  newBME280Bus(b),
		ADS1115Addr: newADS1115(b),
		INA219Addr:  newINA219(b),
		AHT20Addr:   newAHT20(b),
		HDC302xAddr: newHDC302x(b),
		BH1750Addr:  newBH1750(b),
		SCD4xAddr:   newSCD4x(b),
		DS2482Addr:  newDS2482(b),
	}}
}

// String names the bus.
func (bus *i2cBus) String() string { return "sim-i2c" }

// SetSpeed accepts any speed.
func (bus *i2cBus) SetSpeed(physic.Frequency) error { return nil }

// Tx hands the transaction to the chip at addr.
func (bus *i2cBus) Tx(addr uint16, w, r []byte) error {
	bus.mu.Lock()
	silent := bus.silent[addr]
	bus.mu.Unlock()
	d, ok := bus.devs[addr]
	if !ok || silent {
		// What Linux returns when nobody ACKs the address.
		return fmt.Errorf("sim-i2c: %v", syscall.EREMOTEIO)
	}
	return d.Tx(addr, w, r)
}

// SetSilent makes the chip at addr on the I²C bus stop answering (every
// transaction fails as an unacknowledged address does) or answer again,
// to test what a sensor that stops answering does to readouts.
func (b *Board) SetSilent(addr uint16, silent bool) {
	b.i2c.mu.Lock()
	defer b.i2c.mu.Unlock()
	if b.i2c.silent == nil {
		b.i2c.silent = make(map[uint16]bool)
	}
	b.i2c.silent[addr] = silent
}
