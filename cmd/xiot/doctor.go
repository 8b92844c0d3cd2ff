package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"periph.io/x/host/v3/gpioioctl"

	"github.com/xiot/xiot/boards"
	"github.com/xiot/xiot/internal/config"
	"github.com/xiot/xiot/internal/doctor"
	"github.com/xiot/xiot/sensors"
)

const doctorUsage = `Usage: xiot doctor [flags]

Checks what usually goes wrong when xiot runs on a board, and says how to
fix it: I²C, SPI and 1-Wire enabled, their device files present and
permitted for this user, the configured I²C sensors answering at their
addresses, GPIO chips, the clock synchronised (TLS fails otherwise), and,
when an account is configured, the XMPP server reachable with a valid
certificate and the credentials accepted.

Prints a checklist (✔ ok, ✘ failed with a hint, ! warning, - not
applicable) and exits 1 when a check failed; --json prints the results as
JSON.

Examples:
  xiot doctor --config /etc/xiot/xiot.yaml
  xiot doctor --board sim
  xiot doctor --config /etc/xiot/xiot.yaml --json
`

// i2cDrivers are the sensor drivers addressed on an I²C bus.
var i2cDrivers = map[string]bool{
	config.DriverBME280: true, config.DriverADS1x15: true, config.DriverINA219: true,
	config.DriverAHT20: true, config.DriverBH1750: true, config.DriverSCD4x: true,
}

// runDoctor implements "xiot doctor".
func runDoctor(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("doctor", doctorUsage)
	var acct accountFlags
	acct.register(fs)
	asJSON := fs.Bool("json", false, "print the results as JSON")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef(fs, "unexpected argument %q", fs.Arg(0))
	}
	cfg := config.Default()
	if acct.config != "" {
		var err error
		if cfg, err = config.Load(acct.config); err != nil {
			return err
		}
	}
	if err := cfg.ApplyFlags(acct.o); err != nil {
		return err
	}
	board, err := openBoard(cfg.Board)
	if err != nil {
		return err
	}
	rs := []doctor.Result{{Check: "board", Status: doctor.OK, Detail: board.report.Name()}}

	env := doctor.Env{Root: "/", RaspberryPi: board.report.Family == boards.RaspberryPi, I2CAddrs: map[string][]uint16{}}
	for _, s := range cfg.Sensors {
		switch {
		case s.Driver == config.DriverDS18B20 && s.Bridge == "":
			env.OneWire = true
		case s.Driver == config.DriverDS18B20:
			if a, err := config.ParseI2CAddress(s.Bridge); err == nil {
				env.I2CAddrs[s.Bus] = append(env.I2CAddrs[s.Bus], a)
			}
		case i2cDrivers[s.Driver]:
			if a, err := config.ParseI2CAddress(s.Address); err == nil {
				env.I2CAddrs[s.Bus] = append(env.I2CAddrs[s.Bus], a)
			}
		}
	}
	if board.sim != nil {
		// The simulated board has no device files: probe its bus instead.
		rs = append(rs, doctor.Result{Check: "hardware", Status: doctor.Skip, Detail: "simulated board: device files and buses are emulated"})
		if len(env.I2CAddrs) == 0 {
			env.I2CAddrs[""] = []uint16{0x76}
		}
		for bus, addrs := range env.I2CAddrs {
			for _, a := range addrs {
				name := fmt.Sprintf("I²C device %#02x on the simulated bus", a)
				if err := doctor.ProbeI2C(board.sim.I2CBus().Tx, a); err != nil {
					rs = append(rs, doctor.Result{Check: name, Status: doctor.Fail, Detail: err.Error(), Hint: "nothing is emulated at this address (bus " + orDefaultBus(bus) + ")"})
				} else {
					rs = append(rs, doctor.Result{Check: name, Status: doctor.OK, Detail: "acknowledges"})
				}
			}
		}
		env.I2CAddrs = nil
		clock := doctor.Hardware(doctor.Env{Root: "/"})
		rs = append(rs, clock[len(clock)-1])
	} else {
		for _, s := range cfg.Sensors {
			if s.Pin != "" {
				env.Pins = append(env.Pins, s.Pin)
			}
		}
		for _, o := range cfg.Outputs {
			if o.Pin != "" && !strings.Contains(o.Pin, "@") {
				env.Pins = append(env.Pins, o.Pin)
			}
		}
		env.Line = gpioLine
		hw := &sensors.HostHardware{}
		env.Probe = func(bus string, addr uint16) error {
			b, err := hw.I2C(bus)
			if err != nil {
				return err
			}
			return doctor.ProbeI2C(b.Tx, addr)
		}
		rs = append(rs, doctor.Hardware(env)...)
	}

	if cfg.Account.JID.Domainpart() != "" {
		lctx, cancel := context.WithTimeout(ctx, acct.timeout)
		rs = append(rs, doctor.XMPP(lctx, func(ctx context.Context) error {
			s, err := acct.connect(ctx, io.Discard, nil)
			if err != nil {
				return err
			}
			return s.Close()
		}))
		cancel()
	} else {
		rs = append(rs, doctor.Result{Check: "XMPP login", Status: doctor.Skip, Detail: "no account configured (--config or --jid)"})
	}

	if *asJSON {
		if err := doctor.PrintJSON(stdout, rs); err != nil {
			return err
		}
	} else {
		doctor.Print(stdout, rs)
	}
	if doctor.Failed(rs) {
		return errSilent
	}
	return nil
}

func orDefaultBus(b string) string {
	if b == "" {
		return "default"
	}
	return b
}

// gpioLine finds a GPIO line through the GPIO character devices (periph's
// gpioioctl, set up by host.Init in boards.Detect) and reports who holds
// it.
func gpioLine(name string) (consumer string, found bool) {
	for _, chip := range gpioioctl.Chips {
		if l := chip.ByName(name); l != nil {
			return l.Consumer(), true
		}
	}
	return "", false
}
