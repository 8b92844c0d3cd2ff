package boards

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/xiot/xiot/boards/sim"
	"github.com/xiot/xiot/internal/config"
)

// String renders the report as the text of `xiot agent --list-hardware`:
// a header, then one table per kind of bus and the pins. A host without
// hardware says so in plain words.
func (r *Report) String() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	row := func(cells ...string) { fmt.Fprintln(tw, strings.Join(cells, "\t")) }
	row("board:", r.Name())
	row("family:", string(r.Family))
	if r.OS != "" {
		row("os:", r.OS)
	}
	zone := r.ThermalZone
	if zone == "" {
		zone = "none"
	}
	row("cpu temperature:", zone)
	if !r.Hardware() {
		row("hardware:", "none: no GPIO pin, I²C bus or 1-wire bus is reachable here; use --sim for the simulated board")
	}
	tw.Flush()

	buses := func(title string, list []Bus) {
		if len(list) == 0 {
			fmt.Fprintf(&b, "\n%s: none\n", title)
			return
		}
		fmt.Fprintf(&b, "\n%s:\n", title)
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  NAME\tNUMBER\tALIASES")
		for _, bus := range list {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", bus.Name, number(bus.Number), strings.Join(bus.Aliases, ", "))
		}
		tw.Flush()
	}
	buses("I²C buses", r.I2C)
	buses("1-wire buses", r.OneWire)

	if len(r.GPIO) == 0 {
		b.WriteString("\nGPIO pins: none\n")
	} else {
		b.WriteString("\nGPIO pins:\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  NAME\tNUMBER\tFUNCTION")
		for _, p := range r.GPIO {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", p.Name, number(p.Number), p.Function)
		}
		tw.Flush()
	}
	if len(r.Devices) > 0 {
		b.WriteString("\ndevices:\n")
		for _, d := range r.Devices {
			b.WriteString("  " + d + "\n")
		}
	}
	if len(r.Loaded)+len(r.Failed)+len(r.Skipped) > 0 {
		fmt.Fprintf(&b, "\nperiph drivers loaded: %s (%d skipped as not applicable)\n", orNone(r.Loaded), len(r.Skipped))
	}
	for _, d := range r.Failed {
		fmt.Fprintf(&b, "periph driver failed: %s: %s\n", d.Name, d.Err)
	}
	return b.String()
}

func number(n int) string {
	if n < 0 {
		return "-"
	}
	return fmt.Sprint(n)
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// SimReport returns the report for a simulated board: its buses, pins and
// the devices wired to them.
func SimReport(b *sim.Board) *Report {
	r := &Report{
		Family: Simulated, Model: "xiot simulated board",
		I2C:     []Bus{{Name: b.I2CBus().String(), Number: -1}},
		OneWire: []Bus{{Name: b.OneWireBus().String(), Number: -1}},
	}
	for _, c := range sim.SensorConfig() {
		at := c.Address
		switch {
		case c.Bridge != "":
			at = fmt.Sprintf("%s via DS2482 %s on %s", c.Address, c.Bridge, b.I2CBus())
		case c.Driver == config.DriverDS18B20:
			at = fmt.Sprintf("%s on %s", c.Address, b.OneWireBus())
		case c.Pin != "":
			at = "pin " + c.Pin
		case at == "":
			at = "default address on " + b.I2CBus().String()
		default:
			at += " on " + b.I2CBus().String()
		}
		r.Devices = append(r.Devices, fmt.Sprintf("%-8s %s (node %s)", c.Driver, at, c.Node))
	}
	r.Devices = append(r.Devices, fmt.Sprintf("relay on pin %s and setpoint (node %s)", sim.RelayPin, sim.NodeThermostat))
	for _, name := range b.PinNames() {
		p := b.Pin(name)
		r.GPIO = append(r.GPIO, Pin{Name: p.Name(), Number: p.Number(), Function: pinFunction(p)})
	}
	return r
}
