//go:build !xiot_small

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xiot/xiot/internal/testserver"
)

// TestFleetEndToEnd is issue 8's scenario with the real commands: a new
// agent registers with `xiot registry` and prints its claim text; the
// owner claims it with `xiot claim`; a third party is refused readouts;
// the owner allows it two fields with `xiot rules`; the third party then
// reads exactly those and cannot control anything; the owner revokes and
// the refusal holds at once (clearCache).
func TestFleetEndToEnd(t *testing.T) {
	p := testserver.StartProsody(t, testserver.ProsodyOptions{})
	dir := t.TempDir()
	pass := map[string]string{}
	for _, u := range []string{"device", "owner", "alice"} {
		if err := p.Register(u, u+"-secret"); err != nil {
			t.Fatal(err)
		}
		pass[u] = filepath.Join(dir, u+".pass")
		if err := os.WriteFile(pass[u], []byte(u+"-secret"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	secret := filepath.Join(dir, "component.secret")
	if err := os.WriteFile(secret, []byte(p.ComponentSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	write := func(name, body string) string {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	regCfg := write("registry.yaml", fmt.Sprintf("state_dir: %s\ncomponent:\n  domain: %s\n  server: %s\n  secret_file: %s\n",
		filepath.Join(dir, "registry-state"), p.ComponentDomain, p.ComponentAddr, secret))
	agentCfg := write("agent.yaml", fmt.Sprintf(`account:
  jid: device@%s/agent
  password_file: %s
  server: %s
  ca_file: %s
board: sim
state_dir: %s
provisioning:
  registry: %s
  meta: {SN: "0042", MAN: xiot.example, MODEL: sim}
`, p.Domain, pass["device"], p.C2SAddr, p.CAFile, filepath.Join(dir, "agent-state"), p.ComponentDomain))
	acct := func(user string) []string {
		return []string{"--jid", user + "@" + p.Domain, "--password-file", pass[user], "--server", p.C2SAddr, "--ca-file", p.CAFile}
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var regLog, agentLog syncBuffer
	regDone, agentDone := make(chan int, 1), make(chan int, 1)
	go func() { regDone <- run(ctx, []string{"registry", "--config", regCfg}, &regLog, &regLog) }()
	go func() { agentDone <- run(ctx, []string{"agent", "--config", agentCfg}, &agentLog, &agentLog) }()
	defer func() { cancel(); <-regDone; <-agentDone }()
	waitFor := func(buf *syncBuffer, re *regexp.Regexp) []string {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; {
			if m := re.FindStringSubmatch(buf.String()); m != nil {
				return m
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %s in the log:\n%s\nregistry:\n%s", re, buf.String(), regLog.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	claimText := waitFor(&agentLog, regexp.MustCompile(`xiot claim '([^']*)'`))[1]
	if !strings.Contains(claimText, "KEY:") {
		t.Fatalf("claim text %q", claimText)
	}

	claimArgs := append(append([]string{"claim"}, acct("owner")...), "--registry", p.ComponentDomain, claimText)
	if code, out, errOut := runXiot(t, claimArgs...); code != exitOK {
		t.Fatalf("xiot claim: exit %d\n%s\n%s\nregistry:\n%s", code, out, errOut, regLog.String())
	}
	waitFor(&agentLog, regexp.MustCompile(`registry: claimed`))

	device := "device@" + p.Domain + "/agent"
	read := func() (int, string, string) {
		return runXiot(t, append(append([]string{"read", "--types", "momentary"}, acct("alice")...), device)...)
	}
	if code, out, _ := read(); code == exitOK {
		t.Fatalf("alice read the device before any rule:\n%s", out)
	}

	rules := func(args ...string) {
		t.Helper()
		all := append(append([]string{"rules", args[0]}, append(acct("owner"), "--registry", p.ComponentDomain)...), args[1:]...)
		if code, out, errOut := runXiot(t, all...); code != exitOK {
			t.Fatalf("xiot %s: exit %d\n%s\n%s", strings.Join(all, " "), code, out, errOut)
		}
	}
	rules("allow", "--fields", "Temperature,Humidity", "device@"+p.Domain, "alice@"+p.Domain, "read")
	code, out, errOut := read()
	if code != exitOK {
		t.Fatalf("alice's read after the rule: exit %d\n%s\n%s", code, out, errOut)
	}
	names := map[string]bool{}
	for _, line := range strings.Split(out, "\n")[1:] {
		if f := strings.Fields(line); len(f) >= 2 {
			names[f[1]] = true
		}
	}
	if !names["Temperature"] || !names["Humidity"] || len(names) != 2 {
		t.Errorf("alice read fields %v, want exactly Temperature and Humidity:\n%s", names, out)
	}
	if code, out, _ := runXiot(t, append(append([]string{"set"}, acct("alice")...), device, "Setpoint=25", "--node", "thermostat")...); code == exitOK {
		t.Errorf("alice controlled the device:\n%s", out)
	}

	rules("deny", "device@"+p.Domain, "alice@"+p.Domain, "read")
	if code, out, _ := read(); code == exitOK {
		t.Errorf("alice still reads after the owner revoked:\n%s", out)
	}
}
