// Package doctor checks what usually goes wrong when xiot meets a board:
// buses not enabled, device files missing or not permitted for the user,
// devices not answering at their configured addresses, a clock out of sync
// (TLS then fails), and an XMPP server that cannot be reached or refuses
// the credentials. Each check gives a status and, when it fails, a hint on
// how to fix it.
//
// The checks read the file system through a root directory (normally "/")
// so that tests run them on fake /dev and /sys trees.
package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// Status is the outcome of one check.
type Status string

// Statuses. Skip means the check does not apply (no such bus configured
// on a machine without it); Warn is a problem that does not stop the
// agent.
const (
	OK   Status = "ok"
	Warn Status = "warn"
	Fail Status = "fail"
	Skip Status = "skip"
)

// Result is one line of the checklist.
type Result struct {
	Check  string `json:"check"`
	Status Status `json:"status"`
	Detail string `json:"detail,omitempty"`
	Hint   string `json:"hint,omitempty"`
}

// Env is what the checks look at. Root is the file system root ("/");
// Access tells whether the current user may open a path read-write (nil
// means the access(2) system call); Clock reports whether the kernel clock
// is synchronised (nil means adjtimex(2)).
type Env struct {
	Root        string
	RaspberryPi bool
	Access      func(path string) error
	Clock       func() (synced bool, err error)
	// I2CAddrs are the I²C addresses the configuration expects, per bus
	// name ("1" for /dev/i2c-1, "" for the default bus).
	I2CAddrs map[string][]uint16
	// Probe answers whether a device acknowledges addr on bus; nil skips
	// the scan.
	Probe func(bus string, addr uint16) error
	// OneWire says whether the configuration uses native 1-Wire (w1-gpio).
	OneWire bool
	// SPI says whether the configuration uses SPI.
	SPI bool
	// Pins are the GPIO lines the configuration uses (sensors and
	// outputs), by name.
	Pins []string
	// Line reports whether a GPIO line exists and which program holds it
	// ("" when free); nil skips the check.
	Line func(name string) (consumer string, found bool)
}

func (e *Env) path(p string) string { return filepath.Join(e.Root, p) }

func (e *Env) access(p string) error {
	if e.Access != nil {
		return e.Access(p)
	}
	return syscall.Access(p, 0x2|0x4) // W_OK | R_OK
}

// Hardware runs the board checks: buses enabled, device files permitted,
// configured I²C devices answering, 1-Wire, GPIO chips, clock.
func Hardware(e Env) []Result {
	var rs []Result
	rs = append(rs, e.i2c()...)
	rs = append(rs, e.gpio())
	rs = append(rs, e.lines()...)
	if e.SPI {
		rs = append(rs, e.devices("SPI", "dev/spidev*", "spi", e.enableHint("spi")))
	}
	rs = append(rs, e.oneWire())
	rs = append(rs, e.clock())
	return rs
}

func (e *Env) enableHint(bus string) string {
	if e.RaspberryPi {
		switch bus {
		case "i2c":
			return "enable I²C: sudo raspi-config nonint do_i2c 0 (or dtparam=i2c_arm=on in /boot/firmware/config.txt), then reboot"
		case "spi":
			return "enable SPI: sudo raspi-config nonint do_spi 0 (or dtparam=spi=on in /boot/firmware/config.txt), then reboot"
		case "w1":
			return "enable 1-Wire: sudo raspi-config nonint do_onewire 0 (or dtoverlay=w1-gpio in /boot/firmware/config.txt), then reboot"
		}
	}
	switch bus {
	case "i2c":
		return "load the I²C driver (modprobe i2c-dev) and enable the bus in the device tree (armbian-config, or an overlay)"
	case "spi":
		return "enable the SPI bus in the device tree (armbian-config, or an spidev overlay)"
	default:
		return "load w1-gpio and w1-therm (a w1-gpio overlay in the device tree), or use a DS2482 bridge on I²C"
	}
}

// devices checks that files matching glob exist and are permitted.
func (e *Env) devices(name, glob, group, hint string) Result {
	matches, _ := filepath.Glob(e.path(glob))
	sort.Strings(matches)
	if len(matches) == 0 {
		return Result{Check: name + " enabled", Status: Fail, Detail: "no /" + glob, Hint: hint}
	}
	var denied []string
	for _, m := range matches {
		if err := e.access(m); err != nil {
			denied = append(denied, "/"+strings.TrimPrefix(m, e.Root+"/"))
		}
	}
	names := make([]string, len(matches))
	for i, m := range matches {
		names[i] = "/" + strings.TrimPrefix(strings.TrimPrefix(m, e.Root), "/")
	}
	if len(denied) > 0 {
		return Result{Check: name + " device files permitted", Status: Fail,
			Detail: "no read/write access to " + strings.Join(denied, ", "),
			Hint:   fmt.Sprintf("add the user to the group owning them (usually %s): sudo usermod -aG %s $USER, then log in again", group, group)}
	}
	return Result{Check: name + " enabled and permitted", Status: OK, Detail: strings.Join(names, ", ")}
}

func (e *Env) i2c() []Result {
	r := e.devices("I²C", "dev/i2c-*", "i2c", e.enableHint("i2c"))
	if r.Status != OK {
		if len(e.I2CAddrs) == 0 {
			r.Status = Skip
			r.Detail += " (no I²C sensors configured)"
			r.Hint = ""
		}
		return []Result{r}
	}
	rs := []Result{r}
	if e.Probe == nil {
		return rs
	}
	buses := make([]string, 0, len(e.I2CAddrs))
	for b := range e.I2CAddrs {
		buses = append(buses, b)
	}
	sort.Strings(buses)
	for _, b := range buses {
		for _, addr := range e.I2CAddrs[b] {
			name := fmt.Sprintf("I²C device %#02x on bus %s", addr, orDefault(b))
			if err := e.Probe(b, addr); err != nil {
				rs = append(rs, Result{Check: name, Status: Fail, Detail: err.Error(),
					Hint: "check wiring (SDA, SCL, 3.3 V, GND) and the address (i2cdetect -y " + orDefault(b) + " lists what answers)"})
			} else {
				rs = append(rs, Result{Check: name, Status: OK, Detail: "acknowledges"})
			}
		}
	}
	return rs
}

func orDefault(b string) string {
	if b == "" {
		return "1"
	}
	return b
}

func (e *Env) gpio() Result {
	r := e.devices("GPIO", "dev/gpiochip*", "gpio", "the kernel exposes no GPIO character device: this is not a board with GPIO, or the gpio-cdev driver is missing")
	if r.Status == Fail && strings.HasPrefix(r.Check, "GPIO enabled") {
		r.Status = Warn
	}
	return r
}

// lines checks that the configured GPIO lines exist and that no other
// program holds them.
func (e *Env) lines() []Result {
	if e.Line == nil {
		return nil
	}
	var rs []Result
	for _, name := range e.Pins {
		check := "GPIO " + name + " free"
		consumer, found := e.Line(name)
		switch {
		case !found:
			rs = append(rs, Result{Check: check, Status: Fail, Detail: "no GPIO line of that name",
				Hint: "use a name from xiot agent --list-hardware (e.g. GPIO17)"})
		case strings.Contains(consumer, "periph") || strings.Contains(consumer, "xiot"):
			// periph's consumer label: most likely the running agent.
			rs = append(rs, Result{Check: check, Status: Warn, Detail: "held by " + consumer,
				Hint: "the xiot agent holds its pins while it runs; if it is stopped, another periph program holds this one"})
		case consumer != "":
			rs = append(rs, Result{Check: check, Status: Fail, Detail: "held by " + consumer,
				Hint: "stop the program or driver holding it (gpioinfo lists the users), or wire another pin"})
		default:
			rs = append(rs, Result{Check: check, Status: OK})
		}
	}
	return rs
}

func (e *Env) oneWire() Result {
	dir := e.path("sys/bus/w1/devices")
	entries, err := os.ReadDir(dir)
	if err != nil {
		st := Skip
		hint := ""
		if e.OneWire {
			st, hint = Fail, e.enableHint("w1")
		}
		return Result{Check: "1-Wire", Status: st, Detail: "no /sys/bus/w1 (w1-gpio not loaded)", Hint: hint}
	}
	var slaves []string
	for _, en := range entries {
		if !strings.HasPrefix(en.Name(), "w1_bus_master") {
			slaves = append(slaves, en.Name())
		}
	}
	if len(slaves) == 0 {
		return Result{Check: "1-Wire", Status: Warn, Detail: "bus present, no device found",
			Hint: "check the data line's 4.7 kΩ pull-up to 3.3 V and the sensor's wiring"}
	}
	return Result{Check: "1-Wire", Status: OK, Detail: strings.Join(slaves, ", ")}
}

func (e *Env) clock() Result {
	f := e.Clock
	if f == nil {
		f = kernelClockSynced
	}
	synced, err := f()
	switch {
	case err != nil:
		return Result{Check: "clock synchronised", Status: Warn, Detail: err.Error()}
	case !synced:
		return Result{Check: "clock synchronised", Status: Warn, Detail: "the kernel clock is not disciplined by NTP (adjtimex reports it unsynchronised)",
			Hint: "TLS certificates fail with a wrong clock: check the date, enable NTP (timedatectl set-ntp true) or add an RTC"}
	}
	return Result{Check: "clock synchronised", Status: OK}
}

// kernelClockSynced asks adjtimex(2): TIME_ERROR means unsynchronised.
func kernelClockSynced() (bool, error) {
	var tx syscall.Timex
	state, err := syscall.Adjtimex(&tx)
	if err != nil {
		return false, fmt.Errorf("adjtimex: %w", err)
	}
	const timeError = 5
	return state != timeError, nil
}

// Failed reports whether any result failed.
func Failed(rs []Result) bool {
	for _, r := range rs {
		if r.Status == Fail {
			return true
		}
	}
	return false
}

// Print writes the checklist: one line per check with ✔, ✘, ! or -, and
// the hint under each failure.
func Print(w io.Writer, rs []Result) {
	for _, r := range rs {
		mark := map[Status]string{OK: "✔", Fail: "✘", Warn: "!", Skip: "-"}[r.Status]
		line := fmt.Sprintf("%s %s", mark, r.Check)
		if r.Detail != "" {
			line += ": " + r.Detail
		}
		fmt.Fprintln(w, line)
		if r.Hint != "" {
			fmt.Fprintln(w, "    hint: "+r.Hint)
		}
	}
}

// PrintJSON writes the results as a JSON array.
func PrintJSON(w io.Writer, rs []Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rs)
}

// XMPP checks the account: a login attempt whose outcome says whether the
// server is reachable, its certificate valid and the credentials accepted.
// login is the attempt (the caller builds the session); classify maps its
// error.
func XMPP(ctx context.Context, login func(ctx context.Context) error) Result {
	err := login(ctx)
	if err == nil {
		return Result{Check: "XMPP server reachable, certificate valid, credentials accepted", Status: OK}
	}
	msg := err.Error()
	r := Result{Check: "XMPP login", Status: Fail, Detail: msg}
	switch {
	case strings.Contains(msg, "not-authorized"), strings.Contains(msg, "wrong user name or password"):
		r.Hint = "the server refused the credentials: check account.jid and the password file"
	case strings.Contains(msg, "certificate"), strings.Contains(msg, "x509"):
		r.Hint = "the server certificate did not verify: set account.ca_file to the server's CA, check the clock, or account.tls_server_name"
	case strings.Contains(msg, "connection refused"), strings.Contains(msg, "no such host"), strings.Contains(msg, "i/o timeout"), strings.Contains(msg, "dial"):
		r.Hint = "the server is not reachable: check account.server (host:port), DNS SRV records of the domain, and the firewall"
	default:
		r.Hint = "run with --verbose to see the session log"
	}
	return r
}

// ProbeI2C asks whether a device acknowledges addr, by reading one byte
// as i2cdetect does. Only an unacknowledged address (EREMOTEIO, which
// Linux and the simulated bus return) counts as absent: a device that
// acknowledges and then rejects the read is there.
func ProbeI2C(tx func(addr uint16, w, r []byte) error, addr uint16) error {
	err := tx(addr, nil, make([]byte, 1))
	if err == nil || !(errors.Is(err, syscall.EREMOTEIO) || strings.Contains(err.Error(), syscall.EREMOTEIO.Error())) {
		return nil
	}
	return fmt.Errorf("no device acknowledges address %#02x: %w", addr, err)
}
