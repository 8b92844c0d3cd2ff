package sensors

import (
	"context"
	"strings"
	"syscall"
	"testing"

	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/devices/v3/hdc302x"
)

// crc8 is the Sensirion/Aosong CRC (polynomial 0x31, initial 0xFF), as
// the SCD4x and AHT20 datasheets define it.
func crc8(b ...byte) byte {
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

// checkFields compares "value unit" per field name and the common
// attributes every driver sets.
func checkFields(t *testing.T, fields []Field, node string, want map[string]string) {
	t.Helper()
	if len(fields) != len(want) {
		t.Fatalf("got %d fields %v, want %d", len(fields), fields, len(want))
	}
	for _, f := range fields {
		got := f.Text()
		if f.Unit != "" {
			got += " " + f.Unit
		}
		if got != want[f.Name] {
			t.Errorf("%s = %q, want %q", f.Name, got, want[f.Name])
		}
		if err := f.Validate(); err != nil {
			t.Error(err)
		}
		if f.Node != node || !f.Timestamp.Equal(testTime) || f.Types != Momentary {
			t.Errorf("field %v: node %q, time %v", f, f.Node, f.Timestamp)
		}
	}
}

// readAll reads momentary fields, checking first that a request for other
// types returns nothing.
func readAll(t *testing.T, s Sensor) []Field {
	t.Helper()
	if f, err := s.Read(context.Background(), Peak|HistoricalDay); err != nil || len(f) != 0 {
		t.Fatalf("Read(peak) = %v, %v", f, err)
	}
	fields, err := s.Read(context.Background(), Momentary)
	if err != nil {
		t.Fatal(err)
	}
	return fields
}

func TestADS1x15(t *testing.T) {
	// ADS1115 datasheet §9.6.3: config register 0xC3E3 = OS (start), MUX
	// 100 (AIN0 to GND), PGA 001 (±4.096 V), single-shot, 860 SPS,
	// comparator off. A conversion of 0x4000 is half of full scale.
	tests := []struct {
		name  string
		opts  ADS1x15Opts
		cfg   []byte
		raw   []byte
		node  string
		want  map[string]string
		wantS string
	}{
		{
			name: "pressure transducer 0.5-4.5 V = 0-10 bar",
			opts: ADS1x15Opts{Scale: Linear{X0: 0.5, X1: 4.5, Y0: 0, Y1: 10}, Name: "Pressure", Unit: "bar", Decimals: 2},
			cfg:  []byte{0x01, 0xc3, 0xe3}, raw: []byte{0x40, 0x00},
			node: "ads1115-0x48-0",
			want: map[string]string{"Voltage": "2.0480 V", "Pressure": "3.87 bar"},
		},
		{
			name: "differential 2-3 at ±0.256 V on an ADS1015 at 0x49",
			opts: ADS1x15Opts{Chip: "ads1015", Addr: 0x49, Input: "2-3", FullScale: 200 * physic.MilliVolt},
			// MUX 011, PGA 101, 3300 SPS (DR 110).
			cfg: []byte{0x01, 0xbb, 0xc3}, raw: []byte{0xc0, 0x00},
			node: "ads1015-0x49-2-3",
			want: map[string]string{"Voltage": "-0.1280 V"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := tt.opts.Addr
			if addr == 0 {
				addr = 0x48
			}
			bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
				{Addr: addr, W: tt.cfg},
				{Addr: addr, W: []byte{0x00}, R: tt.raw},
			}}
			tt.opts.Now = fixedNow
			s, err := NewADS1x15(bus, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			checkFields(t, readAll(t, s), tt.node, tt.want)
			if err := bus.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestADS1x15Errors(t *testing.T) {
	bus := &i2ctest.Playback{DontPanic: true}
	for _, o := range []ADS1x15Opts{
		{Addr: 0x50},
		{Input: "4"},
		{Chip: "ads1215"},
		{FullScale: 7 * physic.Volt},
		{Scale: Linear{X0: 1, X1: 1, Y1: 3}},
	} {
		if _, err := NewADS1x15(bus, o); err == nil || !strings.Contains(err.Error(), "playback addr") {
			t.Errorf("NewADS1x15(%+v) = %v, want an error naming bus and address", o, err)
		}
	}
	s, err := NewADS1x15(errBus{syscall.EREMOTEIO}, ADS1x15Opts{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Read(context.Background(), 0)
	if err == nil || !strings.Contains(err.Error(), "addr 0x48") || !strings.Contains(err.Error(), "no ACK") {
		t.Errorf("Read on a silent bus = %v", err)
	}
}

func TestINA219(t *testing.T) {
	// Datasheet §8.5: Cal = trunc(0.04096 / (Current_LSB · R_shunt)) with
	// Current_LSB = 3.2 A / 2^15 (periph rounds it to 97656 nA) and 0.1 Ω:
	// 4194 = 0x1062. Then 5 mV on the shunt (500 · 10 µV), 12 V on the
	// bus (3000 · 4 mV, CNVR set), current register 500·4194/4096 = 511,
	// power register 511·3000/5000 = 306 (LSB 20 · Current_LSB).
	bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
		{Addr: 0x41, W: []byte{0x05, 0x10, 0x62}},
		{Addr: 0x41, W: []byte{0x00, 0x1f, 0xff}},
		{Addr: 0x41, W: []byte{0x01}, R: []byte{0x01, 0xf4}},
		{Addr: 0x41, W: []byte{0x02}, R: []byte{0x5d, 0xc2}},
		{Addr: 0x41, W: []byte{0x04}, R: []byte{0x01, 0xff}},
		{Addr: 0x41, W: []byte{0x03}, R: []byte{0x01, 0x32}},
	}}
	s, err := NewINA219(bus, INA219Opts{Addr: 0x41, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	checkFields(t, readAll(t, s), "ina219-0x41", map[string]string{
		"Voltage": "12.000 V", "Current": "0.0499 A", "Power": "0.598 W",
	})
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := NewINA219(errBus{syscall.EACCES}, INA219Opts{}); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("NewINA219 without permission = %v", err)
	}
	if _, err := NewINA219(bus, INA219Opts{Addr: 0x50}); err == nil {
		t.Error("address 0x50 accepted")
	}

	// A chip that stops answering: periph reports "failed to read shunt
	// voltage" only; the driver adds the bus error and its cause.
	bus = &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
		{Addr: 0x40, W: []byte{0x05, 0x10, 0x62}},
		{Addr: 0x40, W: []byte{0x00, 0x1f, 0xff}},
	}}
	s, err = NewINA219(bus, INA219Opts{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Read(context.Background(), 0)
	if err == nil || !strings.Contains(err.Error(), "ina219 read on playback addr 0x40: failed to read shunt voltage: i2ctest: unexpected Tx()") {
		t.Errorf("Read of a silent INA219 = %v", err)
	}
}

func TestAHT20(t *testing.T) {
	// Datasheet §6.4/§6.5: status 0x18 is calibrated and idle; a
	// measurement is triggered with AC 33 00 and read as 7 bytes: state,
	// 20 bits humidity, 20 bits temperature, CRC. 0x80000 is 50 %RH;
	// 0x60000 is 0.375 · 200 − 50 = 25 °C.
	data := []byte{0x1c, 0x80, 0x00, 0x06, 0x00, 0x00}
	data = append(data, crc8(data...))
	bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
		{Addr: 0x38, W: []byte{0x71}, R: []byte{0x18}},
		{Addr: 0x38, W: []byte{0xac, 0x33, 0x00}},
		{Addr: 0x38, R: data},
	}}
	s, err := NewAHT20(bus, AHT20Opts{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	checkFields(t, readAll(t, s), "aht20-0x38", map[string]string{"Temperature": "25.00 °C", "Humidity": "50.0 %"})
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}

	// A corrupted answer is an error naming the chip and the CRC.
	bad := append([]byte(nil), data...)
	bad[6] ^= 0xff
	bus = &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
		{Addr: 0x38, W: []byte{0x71}, R: []byte{0x18}},
		{Addr: 0x38, W: []byte{0xac, 0x33, 0x00}},
		{Addr: 0x38, R: bad},
	}}
	s, err = NewAHT20(bus, AHT20Opts{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Read(context.Background(), 0); err == nil || !strings.Contains(err.Error(), "aht20 read on playback addr 0x38") {
		t.Errorf("Read with a bad CRC = %v", err)
	}
}

func TestBH1750(t *testing.T) {
	// Datasheet p.7: power on (0x01 is sent by periph as reset 0x07),
	// continuous H-resolution mode 0x10; the example reading 0x8390 is
	// 33680 / 1.2 = 28066.7 lx, which periph truncates to 28066.
	bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
		{Addr: 0x5c, W: []byte{0x07}},
		{Addr: 0x5c, W: []byte{0x10}},
		{Addr: 0x5c, W: []byte{0x07}},
		{Addr: 0x5c, W: []byte{0x10}},
		{Addr: 0x5c, W: []byte{0x10}, R: []byte{0x83, 0x90}},
	}}
	s, err := NewBH1750(bus, BH1750Opts{Addr: 0x5c, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	checkFields(t, readAll(t, s), "bh1750-0x5c", map[string]string{"Light": "28066 lx"})
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := NewBH1750(errBus{syscall.ENXIO}, BH1750Opts{}); err == nil || !strings.Contains(err.Error(), "bh1750 on I2C1 addr 0x23") {
		t.Errorf("NewBH1750 on a silent bus = %v", err)
	}
}

// sensirionWords encodes 16-bit words with their CRC, as the SCD4x sends
// them.
func sensirionWords(words ...uint16) []byte {
	var b []byte
	for _, w := range words {
		b = append(b, byte(w>>8), byte(w), crc8(byte(w>>8), byte(w)))
	}
	return b
}

func TestSCD4x(t *testing.T) {
	if testing.Short() {
		t.Skip("periph's scd4x waits 550 ms to stop measuring")
	}
	// Datasheet §3.5.2 example: read_measurement answers 0x01f4 (500 ppm),
	// 0x6667 (−45 + 175 · 26215/65535 = 25.00 °C), 0x5eb9 (37.0 %RH);
	// get_data_ready_status answers non-zero low 11 bits when ready.
	// The datasheet's CRC examples: 0xbeef → 0x92, and the example
	// answer's 0x01f4 → 0x33, 0x6667 → 0xa2, 0x5eb9 → 0x3c.
	if got, want := sensirionWords(0xbeef, 0x01f4, 0x6667, 0x5eb9), []byte{0xbe, 0xef, 0x92, 0x01, 0xf4, 0x33, 0x66, 0x67, 0xa2, 0x5e, 0xb9, 0x3c}; string(got) != string(want) {
		t.Fatalf("CRCs % x, datasheet says % x", got, want)
	}
	bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
		{Addr: 0x62, W: []byte{0x36, 0xf6}},
		{Addr: 0x62, W: []byte{0x21, 0xb1}},
		{Addr: 0x62, W: []byte{0xe4, 0xb8}, R: sensirionWords(0x8006)},
		{Addr: 0x62, W: []byte{0xe4, 0xb8}, R: sensirionWords(0x8006)},
		{Addr: 0x62, W: []byte{0xec, 0x05}, R: sensirionWords(0x01f4, 0x6667, 0x5eb9)},
		{Addr: 0x62, W: []byte{0x3f, 0x86}},
	}}
	s, err := NewSCD4x(bus, SCD4xOpts{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	checkFields(t, readAll(t, s), "scd4x-0x62", map[string]string{
		"CO2": "500 ppm", "Temperature": "25.00 °C", "Humidity": "37.0 %",
	})
	if err := s.Halt(); err != nil {
		t.Fatal(err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestDS248xOpen(t *testing.T) {
	// DS2482-100 datasheet: Device Reset (F0), status after reset reads
	// 0x18 (RST and LL set), Write Configuration (D2) with the complement
	// in the upper nibble reads back the lower nibble; Set Read Pointer to
	// the port configuration register (B4) fails on a DS2482, and to the
	// channel selection register (D2) fails on a -100.
	bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
		{Addr: 0x18, W: []byte{0xf0}},
		{Addr: 0x18, W: []byte{0xe1, 0xf0}, R: []byte{0x18}},
		{Addr: 0x18, W: []byte{0xd2, 0xe1}, R: []byte{0x01}},
	}}
	ow, err := OpenDS248x(bus, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := ow.String(); !strings.HasPrefix(got, "DS2482-100{") {
		t.Errorf("String() = %q", got)
	}
	if _, err := OpenDS248x(errBus{syscall.EREMOTEIO}, 0x19); err == nil || !strings.Contains(err.Error(), "ds248x on I2C1 addr 0x19") || !strings.Contains(err.Error(), "no ACK") {
		t.Errorf("OpenDS248x on a silent bus = %v", err)
	}
}

func TestHDC302x(t *testing.T) {
	// Datasheet §8.5.1: auto measurement at 10 Hz is command 0x2737; the
	// result (command 0xE000) is temperature, CRC, humidity, CRC. 0x6666 is
	// −45 + 175 · 26214/65535 = 25.00 °C, 0x8000 is 50.0 %RH. Halt sends
	// the exit command 0x3093.
	data := append(sensirionWords(0x6666), sensirionWords(0x8000)...)
	bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
		{Addr: 0x45, W: []byte{0x27, 0x37}},
		{Addr: 0x45, W: []byte{0xe0, 0x00}, R: data},
		{Addr: 0x45, W: []byte{0x30, 0x93}},
	}}
	s, err := NewHDC302x(bus, HDC302xOpts{Addr: 0x45, Rate: hdc302x.Rate10Hertz, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	checkFields(t, readAll(t, s), "hdc302x-0x45", map[string]string{"Temperature": "25.00 °C", "Humidity": "50.0 %"})
	if err := s.Halt(); err != nil {
		t.Fatal(err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := NewHDC302x(bus, HDC302xOpts{Addr: 0x40}); err == nil {
		t.Error("address 0x40 accepted")
	}
	if _, err := NewHDC302x(errBus{syscall.EREMOTEIO}, HDC302xOpts{Rate: hdc302x.Rate10Hertz}); err == nil || !strings.Contains(err.Error(), "hdc302x start on I2C1 addr 0x44") || !strings.Contains(err.Error(), "no ACK") {
		t.Errorf("NewHDC302x on a silent bus = %v", err)
	}
}
