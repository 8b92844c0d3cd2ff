package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/xiot/xiot/internal/testserver"
)

// Accounts and the agent's full JID used by the demo.
const (
	deviceUser = "device"
	clientUser = "client"
	resource   = "demo"
)

// demo holds what the demo has started, for cleanup.
type demo struct {
	out  *console
	opts options

	dir     string // temporary directory: password files
	prosody *testserver.Prosody
	bin     string // xiot binary
	agent   *agent

	deviceJID, clientJID   string
	devicePass, clientPass string // password file paths
}

// setup starts Prosody, registers the accounts and finds or builds xiot.
func (d *demo) setup(ctx context.Context) error {
	d.out.heading("xiot demo")
	dir, err := os.MkdirTemp("", "xiot-demo-")
	if err != nil {
		return fmt.Errorf("temporary directory: %w", err)
	}
	d.dir = dir

	bin, err := d.binary(ctx)
	if err != nil {
		return err
	}
	d.bin = bin

	d.out.heading("Server")
	start := time.Now()
	p, err := testserver.Start(ctx, testserver.ProsodyOptions{})
	if err != nil {
		return fmt.Errorf("start Prosody: %w", err)
	}
	d.prosody = p
	d.out.printf("Prosody on %s (domain %s), ready in %v\n", p.C2SAddr, p.Domain, time.Since(start).Round(time.Millisecond))
	d.out.printf("  certificate (trust anchor): %s\n", p.CAFile)
	d.out.printf("  data and logs:              %s\n", p.Dir)

	d.out.heading("Accounts")
	d.deviceJID = deviceUser + "@" + p.Domain
	d.clientJID = clientUser + "@" + p.Domain
	for _, acc := range []struct {
		user string
		file *string
	}{{deviceUser, &d.devicePass}, {clientUser, &d.clientPass}} {
		path, err := d.register(acc.user)
		if err != nil {
			return err
		}
		*acc.file = path
		d.out.printf("  %-18s password file %s (random, mode 0600)\n", acc.user+"@"+p.Domain, path)
	}
	return ctx.Err()
}

// binary returns $XIOT_BIN or builds bin/xiot in the module root.
func (d *demo) binary(ctx context.Context) (string, error) {
	if bin := os.Getenv("XIOT_BIN"); bin != "" {
		abs, err := filepath.Abs(bin)
		if err != nil {
			return "", fmt.Errorf("XIOT_BIN %q: %w", bin, err)
		}
		if _, err := os.Stat(abs); err != nil {
			return "", fmt.Errorf("XIOT_BIN: %w", err)
		}
		d.out.printf("using $XIOT_BIN=%s\n", abs)
		return abs, nil
	}
	gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	if err != nil || root == "." || strings.TrimSpace(string(gomod)) == os.DevNull {
		return "", fmt.Errorf("find the module root with 'go env GOMOD' (run the demo inside the repository or set XIOT_BIN): %v", err)
	}
	bin := filepath.Join(root, "bin", "xiot")
	d.out.printf("building %s from ./cmd/xiot ...\n", bin)
	ctx, cancel := context.WithTimeout(ctx, 5*d.opts.stepTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/xiot")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build xiot: go build -o %s ./cmd/xiot: %w\n%s", bin, err, indent(string(out)))
	}
	return bin, nil
}

// register creates an account with a random password and writes the
// password to a 0600 file.
func (d *demo) register(user string) (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random password: %w", err)
	}
	pass := hex.EncodeToString(b)
	path := filepath.Join(d.dir, user+".password")
	if err := os.WriteFile(path, []byte(pass+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("password file: %w", err)
	}
	if err := d.prosody.Register(user, pass); err != nil {
		return "", err
	}
	return path, nil
}

// accountFlags are the flags that make xiot log in as user.
func (d *demo) accountFlags(jid, passFile string) []string {
	return []string{"--jid", jid, "--password-file", passFile, "--server", d.prosody.C2SAddr, "--ca-file", d.prosody.CAFile}
}

// cleanup stops the agent and Prosody and removes temporary files. It is
// safe after a partial setup.
func (d *demo) cleanup() {
	var errs []error
	if d.agent != nil {
		d.out.printf("\nstopping the agent ...\n")
		errs = append(errs, d.agent.stop())
	}
	if d.prosody != nil {
		d.out.printf("stopping Prosody ...\n")
		errs = append(errs, d.prosody.Close())
	}
	if d.dir != "" {
		errs = append(errs, os.RemoveAll(d.dir))
	}
	if err := errors.Join(errs...); err != nil {
		d.out.printf("cleanup: %v\n", err)
		return
	}
	d.out.printf("cleaned up: agent and Prosody stopped, temporary files removed\n")
}

// indent prefixes every line of s with two spaces.
func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return "  (no output)\n"
	}
	return "  " + strings.ReplaceAll(s, "\n", "\n  ") + "\n"
}
