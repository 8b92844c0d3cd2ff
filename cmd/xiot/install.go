package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/xiot/xiot/deploy"
	"github.com/xiot/xiot/internal/atomicfile"
	"github.com/xiot/xiot/internal/config"
)

const installUsage = `Usage: xiot install [flags]
       xiot uninstall [flags]

install puts the agent in place as a systemd service: this binary as
/usr/local/bin/xiot, the unit as /etc/systemd/system/xiot.service, a
system user "xiot" (in the gpio, i2c and spi groups that exist), and, when
there is none yet, the commented example configuration as
/etc/xiot/xiot.yaml (mode 0640, group xiot). It then reloads systemd and
enables the service; --now also starts it. Edit the configuration first:
the service will not start without an account.

uninstall stops and disables the service and removes the unit and the
binary. It keeps /etc/xiot and /var/lib/xiot (configuration, history,
overrides, audit log): remove them by hand if you want them gone.

--root installs below another directory and skips useradd and systemctl
(for packaging and tests). Both commands need root otherwise.

Examples:
  sudo xiot install
  sudo xiot install --now
  sudo xiot uninstall
  xiot install --root /tmp/pkg
`

// installer holds the paths and switches of install and uninstall.
type installer struct {
	root   string
	now    bool
	stdout io.Writer
}

func (in *installer) path(p string) string { return filepath.Join(in.root, p) }

// run executes a system command unless installing below a root.
func (in *installer) run(name string, args ...string) error {
	if in.root != "" {
		fmt.Fprintf(in.stdout, "skipped (--root): %s %s\n", name, strings.Join(args, " "))
		return nil
	}
	fmt.Fprintf(in.stdout, "$ %s %s\n", name, strings.Join(args, " "))
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

// runInstall implements "xiot install".
func runInstall(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("install", installUsage)
	in := installer{stdout: stdout}
	fs.StringVar(&in.root, "root", "", "install below this `directory`, without useradd and systemctl")
	fs.BoolVar(&in.now, "now", false, "also start the service")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef(fs, "unexpected argument %q", fs.Arg(0))
	}
	if in.root == "" && os.Geteuid() != 0 {
		return errors.New("install needs root (sudo xiot install), or --root DIR")
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find this binary: %w", err)
	}
	bin := in.path("/usr/local/bin/xiot")
	if err := copyFile(self, bin, 0o755); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "installed %s\n", bin)
	unit := in.path("/etc/systemd/system/xiot.service")
	if err := writeFile(unit, []byte(deploy.Unit), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "installed %s\n", unit)
	if in.root == "" {
		if _, err := exec.Command("id", "-u", "xiot").Output(); err != nil {
			if err := in.run("useradd", "--system", "--home-dir", "/var/lib/xiot", "--shell", "/usr/sbin/nologin", "--user-group", "xiot"); err != nil {
				return err
			}
		}
		for _, g := range []string{"gpio", "i2c", "spi"} {
			if exec.Command("getent", "group", g).Run() == nil {
				if err := in.run("usermod", "-aG", g, "xiot"); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(stdout, "note: no group %s on this system; remove it from SupplementaryGroups in %s or create it\n", g, unit)
			}
		}
	}
	cfg := in.path("/etc/xiot/xiot.yaml")
	if _, err := os.Stat(cfg); errors.Is(err, os.ErrNotExist) {
		if err := writeFile(cfg, []byte(config.ExampleYAML()), 0o640); err != nil {
			return err
		}
		if in.root == "" {
			if err := in.run("chown", "root:xiot", filepath.Dir(cfg), cfg); err != nil {
				return err
			}
			if err := os.Chmod(filepath.Dir(cfg), 0o750); err != nil {
				return err
			}
		}
		fmt.Fprintf(stdout, "wrote the example configuration to %s: edit the account (and owners, sensors, outputs) before starting\n", cfg)
	} else {
		fmt.Fprintf(stdout, "kept the existing %s\n", cfg)
	}
	if err := in.run("systemctl", "daemon-reload"); err != nil {
		return err
	}
	enable := []string{"enable", "xiot.service"}
	if in.now {
		enable = []string{"enable", "--now", "xiot.service"}
	}
	if err := in.run("systemctl", enable...); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "done. Check the configuration with: xiot config check /etc/xiot/xiot.yaml; logs: journalctl -u xiot -f")
	return nil
}

// runUninstall implements "xiot uninstall".
func runUninstall(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("uninstall", installUsage)
	in := installer{stdout: stdout}
	fs.StringVar(&in.root, "root", "", "uninstall below this `directory`, without systemctl")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef(fs, "unexpected argument %q", fs.Arg(0))
	}
	if in.root == "" && os.Geteuid() != 0 {
		return errors.New("uninstall needs root (sudo xiot uninstall), or --root DIR")
	}
	if err := in.run("systemctl", "disable", "--now", "xiot.service"); err != nil {
		fmt.Fprintf(stdout, "warning: %v\n", err)
	}
	for _, p := range []string{"/etc/systemd/system/xiot.service", "/usr/local/bin/xiot"} {
		err := os.Remove(in.path(p))
		switch {
		case err == nil:
			fmt.Fprintf(stdout, "removed %s\n", in.path(p))
		case errors.Is(err, os.ErrNotExist):
		default:
			return err
		}
	}
	if err := in.run("systemctl", "daemon-reload"); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "kept %s and %s (configuration and state)\n", in.path("/etc/xiot"), in.path("/var/lib/xiot"))
	return nil
}

func writeFile(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(path, data, mode)
}

func copyFile(src, dst string, mode os.FileMode) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return writeFile(dst, data, mode)
}
