package main

import (
	"bytes"
	"context"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/sensors"
	"github.com/xiot/xiot/sensors/pep"
)

// syncBuffer is a bytes.Buffer safe for a writer and a concurrent reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestAgentDiscoPing runs "xiot agent" on the simulated board against a
// real Prosody and queries it with "xiot disco" and "xiot ping", as the
// README and make demo do.
func TestAgentDiscoPing(t *testing.T) {
	p := testserver.StartProsody(t, testserver.ProsodyOptions{ExtraModules: []string{"smacks"}})
	dir := t.TempDir()
	pass := map[string]string{}
	for _, u := range []string{"device", "client"} {
		if err := p.Register(u, u+"-secret"); err != nil {
			t.Fatal(err)
		}
		pass[u] = filepath.Join(dir, u+".pass")
		if err := os.WriteFile(pass[u], []byte(u+"-secret\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	acct := func(user string) []string {
		return []string{"--jid", user + "@localhost", "--password-file", pass[user], "--server", p.C2SAddr, "--ca-file", p.CAFile}
	}

	ctx, cancel := context.WithCancel(context.Background())
	var agentOut, agentErr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"agent", "--board", "sim", "--metrics", "127.0.0.1:0", "--state-dir", filepath.Join(dir, "state")}, append(acct("device"), "--jid", "device@localhost/agent")...), &agentOut, &agentErr)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(agentErr.String(), "agent online") {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("agent not online after 20 s:\n%s", agentErr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	code, out, errOut := runXiot(t, append(append([]string{"disco"}, acct("client")...), "device@localhost/agent")...)
	if code != exitOK {
		t.Fatalf("disco: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"client/bot", "simulated board", "urn:xmpp:ping", "http://jabber.org/protocol/caps", "software: [xiot]"} {
		if !strings.Contains(out, want) {
			t.Errorf("disco output lacks %q:\n%s", want, out)
		}
	}
	for _, want := range []string{"urn:xmpp:iot:sensordata", "urn:xmpp:iot:control"} {
		if !strings.Contains(out, want) {
			t.Errorf("disco output lacks %q:\n%s", want, out)
		}
	}
	// A momentary readout of every part of the simulated board.
	code, out, errOut = runXiot(t, append(append([]string{"read", "--types", "momentary,status"}, acct("client")...), "device@localhost/agent")...)
	if code != exitOK {
		t.Fatalf("read: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"Temperature", "°C", "Humidity", "Pressure", "hPa", "Energy", "kWh", "Power", "Relay", "Setpoint"} {
		if !strings.Contains(out, want) {
			t.Errorf("read output lacks %q:\n%s", want, out)
		}
	}
	checkMetrics(t, agentErr.String(), out)
	// Control (XEP-0325): the simulated thermostat's setpoint, then an
	// out-of-bounds value refused with the device unchanged.
	code, out, errOut = runXiot(t, append(append([]string{"set"}, acct("client")...), "device@localhost/agent", "Setpoint=23.5", "--node", "thermostat")...)
	if code != exitOK {
		t.Fatalf("set: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runXiot(t, append(append([]string{"set"}, acct("client")...), "device@localhost/agent", "Setpoint=500", "--node", "thermostat")...)
	if code == exitOK {
		t.Errorf("set out of bounds accepted:\n%s\n%s", out, errOut)
	}
	code, out, errOut = runXiot(t, append(append([]string{"read", "--types", "status", "--node", "thermostat"}, acct("client")...), "device@localhost/agent")...)
	if code != exitOK || !strings.Contains(out, "23.5") || !strings.Contains(out, "writable") {
		t.Errorf("read after set: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runXiot(t, append(append([]string{"form"}, acct("client")...), "device@localhost/agent")...)
	if code != exitOK || !strings.Contains(out, "Setpoint") || !strings.Contains(out, "Relay") {
		t.Errorf("form: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runXiot(t, append(append([]string{"ping", "--count", "2", "--interval", "10ms"}, acct("client")...), "device@localhost/agent")...)
	if code != exitOK || !strings.Contains(out, "2/2 replies") {
		t.Fatalf("ping: exit %d\n%s\n%s", code, out, errOut)
	}
	// A JID that is not online: an error reply, exit status 1.
	code, out, _ = runXiot(t, append(append([]string{"ping", "--count", "1"}, acct("client")...), "nobody@localhost/x")...)
	if code != exitRuntime || !strings.Contains(out, "answered with an error") {
		t.Errorf("ping of an absent JID: exit %d\n%s", code, out)
	}
	// A wrong password is a clear error, not a hang.
	bad := filepath.Join(dir, "bad.pass")
	if err := os.WriteFile(bad, []byte("wrong"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runXiot(t, "ping", "--jid", "client@localhost", "--password-file", bad, "--server", p.C2SAddr, "--ca-file", p.CAFile, "device@localhost/agent")
	if code != exitRuntime || !strings.Contains(errOut, "not-authorized") {
		t.Errorf("wrong password: exit %d, stderr %q", code, errOut)
	}

	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("agent exit %d after SIGINT-like cancel:\n%s", code, agentErr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("agent did not stop")
	}
}

func TestAgentCheckConfigAndHardware(t *testing.T) {
	dir := t.TempDir()
	pass := filepath.Join(dir, "p")
	if err := os.WriteFile(pass, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runXiot(t, "agent", "--check-config", "--jid", "d@example.org", "--password-file", pass)
	if code == exitOK || !strings.Contains(errOut, "password_file") {
		t.Errorf("world-readable password file: exit %d, stderr %q", code, errOut)
	}
	if err := os.Chmod(pass, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runXiot(t, "agent", "--check-config", "--jid", "d@example.org", "--password-file", pass)
	if code != exitOK || !strings.Contains(out, "configuration ok") {
		t.Errorf("check-config: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = runXiot(t, "agent", "--board", "sim", "--list-hardware")
	if code != exitOK || !strings.Contains(out, "bme280   0x76 on sim-i2c") {
		t.Errorf("list-hardware: exit %d\n%s", code, out)
	}
}

// TestDoctor runs "xiot doctor" on the simulated board with a real
// account, then with a wrong password.
func TestDoctor(t *testing.T) {
	p := testserver.StartProsody(t, testserver.ProsodyOptions{})
	if err := p.Register("device", "device-secret"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good"), filepath.Join(dir, "bad")
	for f, pw := range map[string]string{good: "device-secret", bad: "wrong"} {
		if err := os.WriteFile(f, []byte(pw), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	args := func(pass string) []string {
		return []string{"doctor", "--board", "sim", "--jid", "device@localhost", "--password-file", pass, "--server", p.C2SAddr, "--ca-file", p.CAFile}
	}
	code, out, errOut := runXiot(t, args(good)...)
	if code != exitOK || !strings.Contains(out, "✔ XMPP server reachable, certificate valid, credentials accepted") || !strings.Contains(out, "✔ I²C device 0x76") {
		t.Errorf("doctor: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = runXiot(t, append(args(bad), "--json")...)
	if code != exitRuntime || !strings.Contains(out, `"status": "fail"`) || !strings.Contains(out, "refused the credentials") {
		t.Errorf("doctor with a wrong password: exit %d\n%s", code, out)
	}
}

// checkMetrics scrapes the agent's metrics endpoint (its address is in the
// agent's log) and checks that the sensor gauges hold the values the
// readout printed (to the readout's decimals).
func checkMetrics(t *testing.T, agentLog, readout string) {
	t.Helper()
	m := regexp.MustCompile(`url=(http://[^ ]+/metrics)`).FindStringSubmatch(agentLog)
	if m == nil {
		t.Fatalf("no metrics endpoint in the agent's log:\n%s", agentLog)
	}
	resp, err := http.Get(m[1])
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	gauges := map[string]float64{}
	re := regexp.MustCompile(`(?m)^xiot_sensor_value\{node="([^"]*)",field="([^"]*)",unit="([^"]*)"\} (\S+)$`)
	for _, g := range re.FindAllStringSubmatch(string(body), -1) {
		v, _ := strconv.ParseFloat(g[4], 64)
		gauges[g[1]+"/"+g[2]] = v
	}
	checked := 0
	for _, line := range strings.Split(readout, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[0] == "NODE" {
			continue
		}
		want, err := strconv.ParseFloat(f[2], 64)
		if err != nil {
			if f[2] == "true" || f[2] == "false" {
				want = map[string]float64{"true": 1, "false": 0}[f[2]]
			} else {
				continue
			}
		}
		got, ok := gauges[f[0]+"/"+f[1]]
		if !ok {
			t.Errorf("no gauge for %s/%s in\n%s", f[0], f[1], body)
			continue
		}
		decimals := 0
		if i := strings.IndexByte(f[2], '.'); i >= 0 {
			decimals = len(f[2]) - i - 1
		}
		if math.Abs(got-want) > 0.5*math.Pow(10, -float64(decimals))+1e-9 {
			t.Errorf("gauge %s/%s = %v, readout said %s", f[0], f[1], got, f[2])
		}
		checked++
	}
	if checked < 8 {
		t.Errorf("only %d readout fields matched gauges:\n%s", checked, body)
	}
	for _, want := range []string{`xiot_readouts_total{result="ok"}`, "xiot_readout_seconds_bucket", "xiot_xmpp_online 1", "xiot_xmpp_resent_stanzas_total", "xiot_xmpp_received_bytes_total", "process_resident_memory_bytes"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestInstallUninstallBelowRoot(t *testing.T) {
	root := t.TempDir()
	code, out, errOut := runXiot(t, "install", "--root", root)
	if code != exitOK {
		t.Fatalf("install: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, f := range []struct {
		path string
		mode os.FileMode
	}{{"usr/local/bin/xiot", 0o755}, {"etc/systemd/system/xiot.service", 0o644}, {"etc/xiot/xiot.yaml", 0o640}} {
		st, err := os.Stat(filepath.Join(root, f.path))
		if err != nil {
			t.Errorf("%s: %v", f.path, err)
			continue
		}
		if st.Mode().Perm() != f.mode {
			t.Errorf("%s: mode %v, want %v", f.path, st.Mode().Perm(), f.mode)
		}
	}
	unit, _ := os.ReadFile(filepath.Join(root, "etc/systemd/system/xiot.service"))
	if !strings.Contains(string(unit), "ExecStart=/usr/local/bin/xiot agent --config /etc/xiot/xiot.yaml") {
		t.Errorf("unit:\n%s", unit)
	}
	if !strings.Contains(out, "skipped (--root): systemctl enable xiot.service") {
		t.Errorf("install output:\n%s", out)
	}
	// A second install keeps an edited configuration.
	cfg := filepath.Join(root, "etc/xiot/xiot.yaml")
	if err := os.WriteFile(cfg, []byte("board: sim\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := runXiot(t, "install", "--root", root); code != exitOK || !strings.Contains(out, "kept the existing") {
		t.Errorf("reinstall: %d\n%s", code, out)
	}
	if b, _ := os.ReadFile(cfg); string(b) != "board: sim\n" {
		t.Errorf("configuration overwritten: %q", b)
	}
	code, out, errOut = runXiot(t, "uninstall", "--root", root)
	if code != exitOK {
		t.Fatalf("uninstall: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, gone := range []string{"usr/local/bin/xiot", "etc/systemd/system/xiot.service"} {
		if _, err := os.Stat(filepath.Join(root, gone)); !os.IsNotExist(err) {
			t.Errorf("%s still there after uninstall", gone)
		}
	}
	if _, err := os.Stat(cfg); err != nil {
		t.Errorf("uninstall removed the configuration: %v", err)
	}
}

// TestAgentPushesReadings: with push enabled, a subscriber to the agent's
// PEP node receives XEP-0323 fields without asking.
func TestAgentPushesReadings(t *testing.T) {
	p := testserver.StartProsody(t, testserver.ProsodyOptions{})
	dir := t.TempDir()
	pass := map[string]string{}
	for _, u := range []string{"device", "client"} {
		if err := p.Register(u, u+"-secret"); err != nil {
			t.Fatal(err)
		}
		pass[u] = filepath.Join(dir, u+".pass")
		if err := os.WriteFile(pass[u], []byte(u+"-secret"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfgFile := filepath.Join(dir, "xiot.yaml")
	cfg := "account:\n  jid: device@localhost/agent\n  password_file: " + pass["device"] + "\n  server: " + p.C2SAddr + "\n  ca_file: " + p.CAFile +
		"\nboard: sim\nstate_dir: " + filepath.Join(dir, "state") +
		"\npush:\n  enabled: true\n  interval: 200ms\n  access_model: open\n  default: {min_interval: 100ms}\n"
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var agentErr syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"agent", "--config", cfgFile}, io.Discard, &agentErr) }()
	defer func() { cancel(); <-done }()
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(agentErr.String(), "push: publishing"); {
		if time.Now().After(deadline) {
			t.Fatalf("agent did not start publishing:\n%s", agentErr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	mux := &xmpp.Mux{}
	got := make(chan []sensors.Field, 16)
	pep.Listen(mux, func(from jid.JID, fields []sensors.Field) {
		if from.Bare().String() == "device@localhost" {
			got <- fields
		}
	})
	cli := xmpp.New(xmpp.Config{JID: jid.MustParse("client@localhost/sub"), Password: "client-secret", Server: p.C2SAddr, TLS: p.TLSConfig(), Keepalive: -1}, mux)
	cctx, ccancel := context.WithTimeout(ctx, 20*time.Second)
	defer ccancel()
	if err := cli.Connect(cctx); err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	// Prosody delivers notifications to available resources.
	if err := cli.Send(cctx, xmpp.NewElement("", "presence")); err != nil {
		t.Fatal(err)
	}
	// The node exists (with its access model) after the first publication.
	for {
		err := pep.Subscribe(cctx, cli, jid.MustParse("device@localhost"))
		if err == nil {
			break
		}
		if cctx.Err() != nil {
			t.Fatalf("subscribe to the device's readings: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	names := map[string]bool{}
	for !names["Temperature"] || !names["Energy"] {
		select {
		case fs := <-got:
			for _, f := range fs {
				names[f.Name] = true
			}
		case <-cctx.Done():
			t.Fatalf("pushed fields so far: %v\n%s", names, agentErr.String())
		}
	}
}
