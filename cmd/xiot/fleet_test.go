//go:build !xiot_small

package main

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/xiot/xiot/internal/testserver"
)

// TestFleetEndToEnd is issue 8's scenario with the real commands: a new
// agent registers with `xiot registry` and prints its claim text; the
// owner claims it with `xiot claim`; a third party is refused readouts;
// the owner allows it two fields with `xiot rules`; the third party then
// reads exactly those and cannot control anything; the owner revokes and
// the refusal holds at once (clearCache).
func TestFleetEndToEnd(t *testing.T) {
	f := newFleet(t, testserver.ProsodyOptions{}, "device", "owner", "alice")
	p, dir, pass, write, acct, regLog := f.p, f.dir, f.pass, f.write, f.acct, &f.regLog
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

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var agentLog syncBuffer
	_, regDone := f.startRegistry(ctx)
	agentDone := make(chan int, 1)
	go func() { agentDone <- run(ctx, []string{"agent", "--config", agentCfg}, &agentLog, &agentLog) }()
	defer func() { cancel(); <-regDone; <-agentDone }()
	waitFor := f.waitLog
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
