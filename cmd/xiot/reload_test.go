package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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

// TestReloadRestartsAgent reloads changes that the running session cannot
// take (another account, a metrics endpoint): the agent starts again in
// the process with them, the outputs keep their state, and a configuration
// that does not start brings the running one back.
func TestReloadRestartsAgent(t *testing.T) {
	p := testserver.StartProsody(t, testserver.ProsodyOptions{})
	dir := t.TempDir()
	pass := map[string]string{}
	for _, u := range []string{"device", "device2", "client"} {
		if err := p.Register(u, u+"-secret"); err != nil {
			t.Fatal(err)
		}
		pass[u] = filepath.Join(dir, u+".pass")
		if err := os.WriteFile(pass[u], []byte(u+"-secret\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	client := []string{"--jid", "client@localhost", "--password-file", pass["client"], "--server", p.C2SAddr, "--ca-file", p.CAFile}
	cfgFile := filepath.Join(dir, "xiot.yaml")
	write := func(user, extra string) {
		t.Helper()
		body := "account:\n  jid: " + user + "@localhost/agent\n  password_file: " + pass[user] + "\n  server: " + p.C2SAddr +
			"\n  ca_file: " + p.CAFile + "\nboard: sim\nstate_dir: " + filepath.Join(dir, "state") + "\n" + extra
		if err := os.WriteFile(cfgFile, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	hup := func() {
		t.Helper()
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	write("device", "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"agent", "--config", cfgFile}, io.Discard, &logs) }()
	waitLog := func(what string, n int) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for strings.Count(logs.String(), what) < n {
			if time.Now().After(deadline) {
				t.Fatalf("not %d× %q in the agent's log:\n%s", n, what, logs.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitLog("agent online", 1)
	code, out, errOut := runXiot(t, append(append([]string{"set"}, client...), "device@localhost/agent", "Setpoint=23.5", "--node", "thermostat")...)
	if code != exitOK {
		t.Fatalf("set: exit %d\n%s\n%s", code, out, errOut)
	}

	// Another account and a metrics endpoint: a new generation.
	metricsAddr := testserver.FreeAddr(t)
	write("device2", "metrics:\n  listen: "+metricsAddr+"\n")
	hup()
	waitLog("xiot agent restarting with the new configuration", 1)
	waitLog("agent online", 2)
	if !strings.Contains(logs.String(), "jid=device2@localhost/agent") {
		t.Fatalf("not started as device2:\n%s", logs.String())
	}
	if strings.Count(logs.String(), "failsafe at boot") != 1 {
		t.Errorf("outputs cycled although board and outputs did not change:\n%s", logs.String())
	}
	code, out, errOut = runXiot(t, append(append([]string{"read", "--types", "status", "--node", "thermostat"}, client...), "device2@localhost/agent")...)
	if code != exitOK || !strings.Contains(out, "23.5") {
		t.Errorf("the setpoint did not survive the reload: exit %d\n%s\n%s", code, out, errOut)
	}
	m := regexp.MustCompile(`url=(http://[^ ]+/metrics)`).FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no metrics endpoint after the reload:\n%s", logs.String())
	}
	resp, err := http.Get(m[1])
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var busy net.Listener
	if resp.StatusCode != http.StatusOK {
		t.Errorf("metrics: %s", resp.Status)
	}

	// A configuration that loads but does not start (the metrics port is
	// taken): the running one comes back.
	busy, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	write("device", "metrics:\n  listen: "+busy.Addr().String()+"\n")
	hup()
	waitLog("the agent did not start with it; the running configuration comes back", 1)
	waitLog("agent online", 3)
	if !strings.Contains(logs.String()[strings.LastIndex(logs.String(), "xiot agent starting"):], "jid=device2@localhost/agent") {
		t.Errorf("not back on the running configuration (device2):\n%s", logs.String())
	}

	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("agent exit %d:\n%s", code, logs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("agent did not stop:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "xiot agent stopped") {
		t.Errorf("no clean stop:\n%s", logs.String())
	}
}
