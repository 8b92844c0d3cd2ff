package boards

import (
	"strings"
	"testing"
	"time"

	"github.com/xiot/xiot/boards/sim"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/conn/v3/onewire/onewirereg"
)

func TestDescribe(t *testing.T) {
	pins := []gpio.PinIO{
		&gpiotest.Pin{N: "GPIO27", Num: 27, Fn: "In/Low"},
		&gpiotest.Pin{N: "GPIO2", Num: 2, Fn: "I2C1_SDA"},
	}
	i2c := []*i2creg.Ref{{Name: "I2C1", Aliases: []string{"/dev/i2c-1"}, Number: 1}}
	ow := []*onewirereg.Ref{{Name: "w1-bus-master1", Number: 1}}
	tests := []struct {
		name     string
		probe    Probe
		family   Family
		board    string
		hardware bool
		mentions []string
	}{
		{"raspberry pi", Probe{Model: "Raspberry Pi 4 Model B Rev 1.4", RaspberryPi: true, Linux: true, I2C: i2c, GPIO: pins, OneWire: ow},
			RaspberryPi, "Raspberry Pi 4 Model B Rev 1.4", true,
			[]string{"I2C1", "/dev/i2c-1", "w1-bus-master1", "GPIO2 ", "I2C1_SDA", "GPIO27"}},
		{"pi from device tree only", Probe{Model: "Raspberry Pi Zero 2 W Rev 1.0", Linux: true, GPIO: pins},
			RaspberryPi, "Raspberry Pi Zero 2 W Rev 1.0", true, []string{"1-wire buses: none"}},
		{"allwinner", Probe{Model: "Xunlong Orange Pi PC", Compatible: []string{"xunlong,orangepi-pc", "allwinner,sun8i-h3"}, Linux: true, GPIO: pins},
			Allwinner, "Xunlong Orange Pi PC", true, nil},
		{"beaglebone", Probe{Model: "TI AM335x BeagleBone Black", Linux: true, GPIO: pins},
			BeagleBone, "TI AM335x BeagleBone Black", true, nil},
		{"generic linux", Probe{Model: "<unknown>", Linux: true, GPIO: pins[:1]},
			GenericLinux, "generic Linux", true, nil},
		{"no hardware", Probe{Model: "<unknown>", Linux: true, OS: "Debian GNU/Linux 12 (bookworm)"},
			NoHardware, "no hardware", false,
			[]string{"hardware:", "none", "--sim", "I²C buses: none", "GPIO pins: none", "Debian GNU/Linux 12"}},
	}
	for _, tt := range tests {
		r := Describe(tt.probe)
		if r.Family != tt.family || r.Name() != tt.board || r.Hardware() != tt.hardware {
			t.Errorf("%s: family %q name %q hardware %v; want %q %q %v", tt.name, r.Family, r.Name(), r.Hardware(), tt.family, tt.board, tt.hardware)
		}
		s := r.String()
		for _, m := range tt.mentions {
			if !strings.Contains(s, m) {
				t.Errorf("%s: report does not mention %q:\n%s", tt.name, m, s)
			}
		}
	}
	// Pins are listed by number.
	r := Describe(Probe{GPIO: pins})
	if r.GPIO[0].Name != "GPIO2" {
		t.Errorf("pins not sorted: %v", r.GPIO)
	}
}

// TestDetectHere runs the real detection. This test machine has no GPIO,
// I²C or 1-wire, so it must succeed and say so; on a board it only checks
// that detection works.
func TestDetectHere(t *testing.T) {
	r, err := Detect()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", r)
	if !r.Hardware() && (r.Family != NoHardware || !strings.Contains(r.String(), "none: no GPIO pin")) {
		t.Errorf("no hardware found but the report says family %q:\n%s", r.Family, r)
	}
	if r.Hardware() && r.Family == NoHardware {
		t.Errorf("hardware found but family is %q", r.Family)
	}
}

func TestSimulated(t *testing.T) {
	r := SimReport(sim.New(func() time.Time { return time.Unix(0, 0) }))
	s := r.String()
	for _, m := range []string{"simulated", "sim-i2c", "sim-onewire", "PULSE", "RELAY", "bme280   0x76 on sim-i2c (node bme280)", "ds18b20  07000005a1b2c328 on sim-onewire", "scd4x", "via DS2482 0x18"} {
		if !strings.Contains(s, m) {
			t.Errorf("report does not mention %q:\n%s", m, s)
		}
	}
	if !r.Hardware() || r.Family != Simulated {
		t.Errorf("family %q hardware %v", r.Family, r.Hardware())
	}
}
