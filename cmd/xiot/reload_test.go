package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/agent"
	"github.com/xiot/xiot/internal/config"
	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/internal/xmpp"
)

func TestReload(t *testing.T) {
	a, err := agent.New(agent.Options{Session: xmpp.Config{JID: jid.MustParse("d@example.org/x")}})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	level := new(slog.LevelVar)
	cur := config.Default()
	next := config.Default()
	var loadErr error
	r := &reloader{
		cur: cur, level: level, agent: a,
		log:  slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		load: func() (*config.Config, error) { return next, loadErr },
	}
	ctx := context.Background()

	// A file that does not load: refused, nothing changes.
	loadErr = errors.New("x.yaml:3: board: must be auto, sim or none")
	r.reload(ctx)
	if !strings.Contains(logs.String(), "reload refused") || !strings.Contains(logs.String(), "x.yaml:3") || r.cur != cur {
		t.Errorf("invalid file: %s", logs.String())
	}

	// Live settings apply and become current.
	loadErr = nil
	next.Log.Level = "debug"
	next.Account.Owners = []jid.JID{jid.MustParse("alice@example.org")}
	next.Account.Priority = 7
	logs.Reset()
	r.reload(ctx)
	if level.Level() != slog.LevelDebug || r.cur != next || !strings.Contains(logs.String(), "configuration reloaded") {
		t.Errorf("live reload: level %v\n%s", level.Level(), logs.String())
	}

	// Settings that need a restart are named and not applied.
	next2 := config.Default()
	next2.Log.Level = "debug"
	next2.Account.Owners = next.Account.Owners
	next2.Account.Priority = 7
	next2.Board = config.BoardSim
	next2.StateDir = "/elsewhere"
	next = next2
	logs.Reset()
	r.reload(ctx)
	out := logs.String()
	if !strings.Contains(out, "need a restart") || !strings.Contains(out, "board") || !strings.Contains(out, "state_dir") || r.cur == next2 {
		t.Errorf("restart-only changes: %s", out)
	}
	if strings.Contains(out, "configuration reloaded") {
		t.Errorf("restart-only changes reported as reloaded: %s", out)
	}

	// The sensors, history and push sections restart the sensor services;
	// a failure keeps the running configuration.
	next = config.Default()
	next.Log.Level = "debug"
	next.Account.Owners = next2.Account.Owners
	next.Account.Priority = 7
	next.Push.Enabled = true
	r.cur = func() *config.Config {
		c := config.Default()
		c.Log.Level = "debug"
		c.Account = next.Account
		return c
	}()
	var applied []*config.Config
	applyErr := errors.New("sensors[0] (bme280): i2c-1 0x76: no ACK")
	r.applySensors = func(cur, nx *config.Config) error {
		applied = append(applied, nx)
		return applyErr
	}
	logs.Reset()
	running := r.cur
	r.reload(ctx)
	if len(applied) != 1 || r.cur != running || !strings.Contains(logs.String(), "no ACK") {
		t.Errorf("failed sensor restart: applied %d, log %s", len(applied), logs.String())
	}
	applyErr = nil
	logs.Reset()
	r.reload(ctx)
	if len(applied) != 2 || r.cur != next || !strings.Contains(logs.String(), "sensor services restarted") {
		t.Errorf("sensor restart: applied %d, log %s", len(applied), logs.String())
	}
}

// TestSIGHUPReload runs the xiot binary as a daemon against Prosody, then
// sends SIGHUP with a broken configuration (refused, the agent stays up)
// and with a new log level (applied).
func TestSIGHUPReload(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the xiot binary; skipped with -short")
	}
	p := testserver.StartProsody(t, testserver.ProsodyOptions{})
	if err := p.Register("device", "device-secret"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "xiot")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	pass := filepath.Join(dir, "pass")
	if err := os.WriteFile(pass, []byte("device-secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "xiot.yaml")
	write := func(body string) {
		if err := os.WriteFile(cfgFile, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	good := "account:\n  jid: device@localhost/agent\n  password_file: " + pass + "\n  server: " + p.C2SAddr + "\n  ca_file: " + p.CAFile +
		"\nboard: sim\nstate_dir: " + filepath.Join(dir, "state") + "\nlog:\n  level: info\n"
	write(good)
	var logs syncBuffer
	cmd := exec.Command(bin, "agent", "--config", cfgFile)
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	waitLog := func(what string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !strings.Contains(logs.String(), what) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in the agent's log:\n%s", what, logs.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitLog("agent online")

	write("account: [this is not a mapping\n")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog("reload refused")

	write(strings.Replace(good, "level: info", "level: debug", 1))
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog("configuration reloaded")

	// A new sensors section restarts the sensor services with it.
	write(strings.Replace(good, "level: info", "level: debug", 1) + "sensors:\n  - {driver: bme280, node: room, address: \"0x76\"}\n")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog("sensor services restarted")
	waitLog("nodes=room,thermostat")
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("agent exit after SIGTERM: %v\n%s", err, logs.String())
	}
	if !strings.Contains(logs.String(), "xiot agent stopped") {
		t.Errorf("no clean stop:\n%s", logs.String())
	}
}
