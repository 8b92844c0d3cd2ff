// Package boards finds out what the agent runs on: the board (Raspberry Pi,
// Allwinner, BeagleBone, another Linux machine, or no hardware at all) and
// the I²C buses, 1-wire buses and GPIO pins periph can reach. Its Report
// backs `xiot agent --list-hardware` and the hardware part of service
// discovery. The simulated board lives in boards/sim.
//
// The package keeps no state of its own; periph's registries (filled by
// host.Init) are the only source.
package boards

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"periph.io/x/conn/v3/driver/driverreg"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/conn/v3/onewire/onewirereg"
	"periph.io/x/conn/v3/pin"
	"periph.io/x/host/v3"
	"periph.io/x/host/v3/allwinner"
	"periph.io/x/host/v3/beagle/black"
	"periph.io/x/host/v3/beagle/bone"
	"periph.io/x/host/v3/beagle/green"
	"periph.io/x/host/v3/distro"
	"periph.io/x/host/v3/rpi"
)

// Family is the kind of board.
type Family string

// The board families Detect tells apart.
const (
	RaspberryPi  Family = "Raspberry Pi"
	Allwinner    Family = "Allwinner"
	BeagleBone   Family = "BeagleBone"
	GenericLinux Family = "generic Linux"
	NoHardware   Family = "no hardware"
	Simulated    Family = "simulated"
)

// Bus is an I²C or 1-wire bus periph registered.
type Bus struct {
	Name    string   // e.g. "I2C1"
	Aliases []string // e.g. ["/dev/i2c-1"]
	Number  int      // bus number, -1 if none
}

// Pin is a GPIO pin periph registered.
type Pin struct {
	Name     string // e.g. "GPIO17"
	Number   int    // logical number, -1 if none
	Function string // current function, e.g. "In/High", "I2C1_SDA"
}

// Driver is a periph driver that was skipped or failed to load, and why.
type Driver struct {
	Name string
	Err  string
}

// Report describes the host: board, buses, pins and periph drivers.
type Report struct {
	Family     Family   // kind of board
	Model      string   // device tree model, e.g. "Raspberry Pi 4 Model B Rev 1.4"; "" if unknown
	Compatible []string // device tree compatible strings
	OS         string   // OS pretty name, e.g. "Debian GNU/Linux 12 (bookworm)"

	I2C     []Bus
	OneWire []Bus
	GPIO    []Pin

	// ThermalZone is the SoC temperature file if it is readable, else "".
	ThermalZone string
	// Devices lists devices known to be wired (the simulated board's); a
	// real board's buses are not scanned.
	Devices []string

	Loaded  []string // periph drivers that loaded
	Skipped []Driver // periph drivers that do not apply here
	Failed  []Driver // periph drivers that should apply but failed
}

// Probe is what Describe turns into a Report: the device tree, the board
// checks and periph's registries. Detect fills it from the host; tests fill
// it by hand.
type Probe struct {
	Model       string   // device tree model; "" or "<unknown>" if none
	Compatible  []string // device tree compatible strings
	OS          string   // OS pretty name
	RaspberryPi bool     // rpi.Present()
	Allwinner   bool     // allwinner.Present()
	BeagleBone  bool     // one of periph's beagle Present()
	Linux       bool     // running on Linux
	ThermalZone string   // readable SoC temperature file, or ""

	State   *driverreg.State // result of host.Init; may be nil
	I2C     []*i2creg.Ref
	OneWire []*onewirereg.Ref
	GPIO    []gpio.PinIO
}

// DefaultThermalZone is where Linux exposes the SoC temperature.
const DefaultThermalZone = "/sys/class/thermal/thermal_zone0/temp"

// Detect initialises periph's host drivers (host.Init) and reports the
// board and what periph can reach. On a machine without GPIO, I²C or 1-wire
// it succeeds and reports Family NoHardware.
func Detect() (*Report, error) {
	state, err := host.Init()
	if err != nil {
		return nil, fmt.Errorf("boards: periph host init: %w", err)
	}
	p := Probe{
		Model:       distro.DTModel(),
		Compatible:  distro.DTCompatible(),
		OS:          distro.OSRelease()["PRETTY_NAME"],
		RaspberryPi: rpi.Present(),
		Allwinner:   allwinner.Present(),
		BeagleBone:  bone.Present() || black.Present() || green.Present(),
		Linux:       isLinux(),
		State:       state,
		I2C:         i2creg.All(),
		OneWire:     onewirereg.All(),
		GPIO:        gpioreg.All(),
	}
	if f, err := os.Open(DefaultThermalZone); err == nil {
		f.Close()
		p.ThermalZone = DefaultThermalZone
	}
	return Describe(p), nil
}

func isLinux() bool {
	_, err := os.Stat("/proc/self")
	return err == nil
}

// Describe builds the report for a probe. The family comes from periph's
// board checks, then the device tree; a Linux host with no bus and no pin
// is NoHardware rather than GenericLinux.
func Describe(p Probe) *Report {
	r := &Report{Compatible: p.Compatible, OS: p.OS, ThermalZone: p.ThermalZone}
	if p.Model != "<unknown>" {
		r.Model = p.Model
	}
	for _, ref := range p.I2C {
		r.I2C = append(r.I2C, Bus{Name: ref.Name, Aliases: ref.Aliases, Number: ref.Number})
	}
	for _, ref := range p.OneWire {
		r.OneWire = append(r.OneWire, Bus{Name: ref.Name, Aliases: ref.Aliases, Number: ref.Number})
	}
	for _, g := range p.GPIO {
		pn := Pin{Name: g.Name(), Number: g.Number(), Function: pinFunction(g)}
		r.GPIO = append(r.GPIO, pn)
	}
	sort.Slice(r.GPIO, func(i, j int) bool { return r.GPIO[i].Number < r.GPIO[j].Number })
	if p.State != nil {
		for _, d := range p.State.Loaded {
			r.Loaded = append(r.Loaded, d.String())
		}
		for _, d := range p.State.Skipped {
			r.Skipped = append(r.Skipped, Driver{Name: d.D.String(), Err: errText(d.Err)})
		}
		for _, d := range p.State.Failed {
			r.Failed = append(r.Failed, Driver{Name: d.D.String(), Err: errText(d.Err)})
		}
	}
	compat := strings.ToLower(strings.Join(p.Compatible, " "))
	switch {
	case p.RaspberryPi || strings.HasPrefix(r.Model, "Raspberry Pi") || strings.Contains(compat, "raspberrypi"):
		r.Family = RaspberryPi
	case p.Allwinner || strings.Contains(compat, "allwinner"):
		r.Family = Allwinner
	case p.BeagleBone || strings.Contains(strings.ToLower(r.Model), "beaglebone"):
		r.Family = BeagleBone
	case !r.Hardware():
		r.Family = NoHardware
	case p.Linux:
		r.Family = GenericLinux
	default:
		r.Family = NoHardware
	}
	return r
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// Hardware reports whether any bus or pin was found.
func (r *Report) Hardware() bool {
	return len(r.I2C)+len(r.OneWire)+len(r.GPIO) > 0
}

// Name is the board's name for humans: the device tree model when known,
// else the family.
func (r *Report) Name() string {
	if r.Model != "" {
		return r.Model
	}
	return string(r.Family)
}

// pinFunction is the pin's current function, through pin.PinFunc (the
// Function method of gpio.PinIO is deprecated).
func pinFunction(p gpio.PinIO) string {
	if pf, ok := p.(pin.PinFunc); ok {
		return string(pf.Func())
	}
	return ""
}
