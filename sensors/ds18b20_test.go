package sensors

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/onewire"
	"periph.io/x/conn/v3/onewire/onewiretest"
)

const dsAddr onewire.Address = 0x740000070e41ac28

var (
	dsMatch = []byte{0x55, 0x28, 0xac, 0x41, 0xe, 0x7, 0x0, 0x0, 0x74}
	// dsInit is a scratchpad recorded from a real DS18B20 at 10 bits (periph's
	// ds18b20_test.go): 0x01e0 = 30 °C, config 0x3f.
	dsInit = []byte{0xe0, 0x1, 0x0, 0x0, 0x3f, 0xff, 0x10, 0x10, 0x3f}
)

func cmd(c byte) []byte { return append(append([]byte(nil), dsMatch...), c) }

// scratchpad returns a 10-bit scratchpad holding raw (1/16 °C) with its CRC.
func scratchpad(raw int16) []byte {
	b := []byte{byte(raw), byte(uint16(raw) >> 8), 0x4b, 0x46, 0x3f, 0xff, 0x10, 0x10, 0}
	b[8] = onewire.CalcCRC(b[:8])
	return b
}

func TestDS18B20Read(t *testing.T) {
	tests := []struct {
		name    string
		spad    []byte
		want    float64
		text    string
		wantErr string
	}{
		{"recorded 30 °C", dsInit, 30, "30.00", ""},
		{"datasheet +25.0625 °C", scratchpad(0x0191), 25.0625, "25.06", ""},
		{"datasheet -10.125 °C", scratchpad(-162), -10.125, "-10.12", ""},
		{"datasheet -55 °C", scratchpad(-880), -55, "-55.00", ""},
		{"power-on 85 °C", scratchpad(0x0550), 0, "", "pull-up"},
		{"no device", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 0, "", "did not respond"},
		{"bad crc", append(scratchpad(0x0191)[:8], 0x00), 0, "", "CRC"},
	}
	for _, tt := range tests {
		bus := &onewiretest.Playback{DontPanic: true, Ops: []onewiretest.IO{
			{W: cmd(0xbe), R: dsInit},
			{W: cmd(0x44), Pull: onewire.StrongPullup},
			{W: cmd(0xbe), R: tt.spad},
		}}
		s, err := NewDS18B20(bus, dsAddr, DS18B20Opts{Resolution: 10, Conversion: time.Millisecond, Now: fixedNow})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		fields, err := s.Read(context.Background(), 0)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "0x740000070e41ac28") {
				t.Errorf("%s: error %v, want one naming the address and %q", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if len(fields) != 1 {
			t.Fatalf("%s: %d fields", tt.name, len(fields))
		}
		f := fields[0]
		if v, _ := f.Value.Float(); v != tt.want || f.Text() != tt.text || f.Unit != "°C" || f.Node != "ds18b20-740000070e41ac28" {
			t.Errorf("%s: got %v", tt.name, f)
		}
		if err := bus.Close(); err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
}

func TestDS18B20SetsResolution(t *testing.T) {
	// At 12 bits the driver rewrites the config register (0x7f) and copies
	// the scratchpad to EEPROM.
	bus := &onewiretest.Playback{DontPanic: true, Ops: []onewiretest.IO{
		{W: cmd(0xbe), R: dsInit},
		{W: append(cmd(0x4e), 0, 0, 0x7f)},
		{W: cmd(0x48), Pull: onewire.StrongPullup},
	}}
	s, err := NewDS18B20(bus, dsAddr, DS18B20Opts{})
	if err != nil {
		t.Fatal(err)
	}
	if s.conversion != 750*time.Millisecond {
		t.Errorf("conversion time at 12 bits = %v, datasheet says 750ms", s.conversion)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := NewDS18B20(bus, dsAddr, DS18B20Opts{Resolution: 13}); err == nil {
		t.Error("resolution 13 accepted")
	}
}

func TestDS18B20ContextCancel(t *testing.T) {
	bus := &onewiretest.Playback{DontPanic: true, Ops: []onewiretest.IO{
		{W: cmd(0xbe), R: dsInit},
		{W: cmd(0x44), Pull: onewire.StrongPullup},
	}}
	s, err := NewDS18B20(bus, dsAddr, DS18B20Opts{Resolution: 10, Conversion: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := s.Read(ctx, Momentary); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Read = %v, want deadline exceeded", err)
	}
}

func TestFindDS18B20(t *testing.T) {
	other, ds18s20 := romCode(0x01, 0x1234567890ab), romCode(0x10, 0x0abcdef010)
	bus := &onewiretest.Playback{DontPanic: true, Devices: []onewire.Address{dsAddr, other, ds18s20}}
	bus.Ops = []onewiretest.IO{{W: []byte{0xf0}}, {W: []byte{0xf0}}, {W: []byte{0xf0}}}
	got, err := FindDS18B20(bus)
	if err != nil {
		t.Fatal(err)
	}
	want := map[onewire.Address]bool{dsAddr: true, ds18s20: true}
	if len(got) != len(want) {
		t.Fatalf("found %x, want %d devices", got, len(want))
	}
	for _, a := range got {
		if !want[a] {
			t.Errorf("found %#x, which is not a DS18x20", a)
		}
	}
}

// romCode builds a 1-wire ROM code: family, 48-bit serial, CRC.
func romCode(family byte, serial uint64) onewire.Address {
	b := make([]byte, 8)
	b[0] = family
	for i := 0; i < 6; i++ {
		b[1+i] = byte(serial >> (8 * i))
	}
	b[7] = onewire.CalcCRC(b[:7])
	var a onewire.Address
	for i := 7; i >= 0; i-- {
		a = a<<8 | onewire.Address(b[i])
	}
	return a
}
