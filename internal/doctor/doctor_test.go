package doctor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// tree creates files (and their directories) under a temporary root.
func tree(t *testing.T, files ...string) string {
	t.Helper()
	root := t.TempDir()
	for _, f := range files {
		p := filepath.Join(root, f)
		if strings.HasSuffix(f, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func find(rs []Result, prefix string) (Result, bool) {
	for _, r := range rs {
		if strings.HasPrefix(r.Check, prefix) {
			return r, true
		}
	}
	return Result{}, false
}

func synced() (bool, error) { return true, nil }

func TestHardwareChecks(t *testing.T) {
	denyAll := func(string) error { return os.ErrPermission }
	allowAll := func(string) error { return nil }
	ack := func(bus string, addr uint16) error {
		if addr == 0x76 {
			return nil
		}
		return errors.New("i2c: no ACK")
	}
	tests := []struct {
		name  string
		env   Env
		files []string
		check string // prefix of the check looked at
		want  Status
		hint  string // substring of the hint
	}{
		{"pi without i2c, sensors configured", Env{RaspberryPi: true, I2CAddrs: map[string][]uint16{"1": {0x76}}}, nil, "I²C", Fail, "raspi-config nonint do_i2c 0"},
		{"no i2c and none configured", Env{}, nil, "I²C", Skip, ""},
		{"i2c not permitted", Env{Access: denyAll, I2CAddrs: map[string][]uint16{"1": {0x76}}}, []string{"dev/i2c-1"}, "I²C device files", Fail, "usermod -aG i2c"},
		{"i2c ok", Env{Access: allowAll}, []string{"dev/i2c-1"}, "I²C enabled", OK, ""},
		{"device answers", Env{Access: allowAll, Probe: ack, I2CAddrs: map[string][]uint16{"1": {0x76}}}, []string{"dev/i2c-1"}, "I²C device 0x76", OK, ""},
		{"device silent", Env{Access: allowAll, Probe: ack, I2CAddrs: map[string][]uint16{"1": {0x23}}}, []string{"dev/i2c-1"}, "I²C device 0x23", Fail, "i2cdetect -y 1"},
		{"no gpio", Env{}, nil, "GPIO", Warn, "no GPIO character device"},
		{"gpio not permitted", Env{Access: denyAll}, []string{"dev/gpiochip0"}, "GPIO device files", Fail, "usermod -aG gpio"},
		{"1-wire configured, missing", Env{RaspberryPi: true, OneWire: true}, nil, "1-Wire", Fail, "do_onewire"},
		{"1-wire bus without devices", Env{}, []string{"sys/bus/w1/devices/w1_bus_master1/"}, "1-Wire", Warn, "pull-up"},
		{"1-wire with a DS18B20", Env{}, []string{"sys/bus/w1/devices/w1_bus_master1/", "sys/bus/w1/devices/28-0000056a1b2c/"}, "1-Wire", OK, ""},
		{"spi missing", Env{SPI: true, RaspberryPi: true}, nil, "SPI", Fail, "do_spi"},
		{"configured pin held by another program", Env{Pins: []string{"GPIO17"}, Line: func(string) (string, bool) { return "w1-gpio", true }}, nil, "GPIO GPIO17 free", Fail, "gpioinfo"},
		{"configured pin unknown", Env{Pins: []string{"GPIO99"}, Line: func(string) (string, bool) { return "", false }}, nil, "GPIO GPIO99 free", Fail, "--list-hardware"},
		{"configured pin held by periph (the agent)", Env{Pins: []string{"GPIO17"}, Line: func(string) (string, bool) { return "periph.io", true }}, nil, "GPIO GPIO17 free", Warn, "agent holds"},
		{"configured pin free", Env{Pins: []string{"GPIO17"}, Line: func(string) (string, bool) { return "", true }}, nil, "GPIO GPIO17 free", OK, ""},
		{"clock unsynchronised", Env{Clock: func() (bool, error) { return false, nil }}, nil, "clock", Warn, "timedatectl set-ntp true"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := tc.env
			env.Root = tree(t, tc.files...)
			if env.Clock == nil {
				env.Clock = synced
			}
			rs := Hardware(env)
			r, ok := find(rs, tc.check)
			if !ok {
				t.Fatalf("no %q check in %+v", tc.check, rs)
			}
			if r.Status != tc.want {
				t.Errorf("%s: status %s, want %s (%+v)", tc.check, r.Status, tc.want, r)
			}
			if !strings.Contains(r.Hint, tc.hint) {
				t.Errorf("hint %q lacks %q", r.Hint, tc.hint)
			}
			if tc.want == OK && r.Hint != "" {
				t.Errorf("unexpected hint for a passing check: %q", r.Hint)
			}
		})
	}
}

func TestXMPPHints(t *testing.T) {
	for _, tc := range []struct{ err, hint string }{
		{"SASL SCRAM-SHA-256 as d@x: not-authorized", "refused the credentials"},
		{"TLS with x: tls: failed to verify certificate: x509: certificate signed by unknown authority", "ca_file"},
		{"dial tcp 127.0.0.1:5222: connect: connection refused", "not reachable"},
	} {
		r := XMPP(context.Background(), func(context.Context) error { return errors.New(tc.err) })
		if r.Status != Fail || !strings.Contains(r.Hint, tc.hint) {
			t.Errorf("%q: %+v", tc.err, r)
		}
	}
	if r := XMPP(context.Background(), func(context.Context) error { return nil }); r.Status != OK {
		t.Errorf("success: %+v", r)
	}
}

func TestPrint(t *testing.T) {
	rs := []Result{{Check: "a", Status: OK}, {Check: "b", Status: Fail, Detail: "d", Hint: "h"}}
	var b bytes.Buffer
	Print(&b, rs)
	if got := b.String(); got != "✔ a\n✘ b: d\n    hint: h\n" {
		t.Errorf("%q", got)
	}
	if !Failed(rs) || Failed(rs[:1]) {
		t.Error("Failed")
	}
	b.Reset()
	if err := PrintJSON(&b, rs); err != nil || !strings.Contains(b.String(), `"status": "fail"`) {
		t.Errorf("%v %s", err, b.String())
	}
}

func TestRealMachine(t *testing.T) {
	// On this machine (no board hardware) the checks run without error and
	// the clock check gets an answer from the kernel.
	rs := Hardware(Env{Root: "/"})
	if r, ok := find(rs, "clock"); !ok || strings.Contains(r.Detail, "adjtimex:") {
		t.Errorf("clock check on the real kernel: %+v", r)
	}
}

func TestProbeI2C(t *testing.T) {
	absent := func(uint16, []byte, []byte) error { return fmt.Errorf("sim-i2c: %v", syscall.EREMOTEIO) }
	rejects := func(uint16, []byte, []byte) error { return errors.New("bme280 read needs one register byte") }
	answers := func(uint16, []byte, []byte) error { return nil }
	if err := ProbeI2C(absent, 0x23); err == nil || !strings.Contains(err.Error(), "0x23") {
		t.Errorf("absent: %v", err)
	}
	if err := ProbeI2C(rejects, 0x76); err != nil {
		t.Errorf("a device that rejects the read is there: %v", err)
	}
	if err := ProbeI2C(answers, 0x76); err != nil {
		t.Errorf("answers: %v", err)
	}
}
