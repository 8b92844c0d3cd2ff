//go:build !xiot_small

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/xiot/xiot/internal/testserver"
)

// TestFleetUpdateUnregister is the rest of issue 8's device side for the
// agent, with the real commands against a real Prosody and `xiot
// registry`: a claimed agent restarted with other provisioning.meta tags
// while the registry is down keeps serving the grant it had cached before
// the restart and refuses every other question; once the registry is back
// it sends the changed tags as an update (searches find the new value, a
// removed tag is gone, `xiot things` shows them), answers new questions,
// and at the next start sends nothing for unchanged tags; `xiot agent
// --unregister` then removes it from the registry and deletes its KEY and
// cache, and a second --unregister is refused.
func TestFleetUpdateUnregister(t *testing.T) {
	f := newFleet(t, testserver.ProsodyOptions{}, "device", "owner", "alice", "bob")
	p, dir, pass, write, acct := f.p, f.dir, f.pass, f.write, f.acct
	state := filepath.Join(dir, "agent-state")
	agentCfg := func(meta string) string {
		return write("agent.yaml", fmt.Sprintf(`account:
  jid: device@%s/agent
  password_file: %s
  server: %s
  ca_file: %s
board: sim
state_dir: %s
provisioning:
  registry: %s
  timeout: 3s
  meta: {%s}
`, p.Domain, pass["device"], p.C2SAddr, p.CAFile, state, p.ComponentDomain, meta))
	}
	cfgFile := agentCfg(`SN: "0042", MAN: xiot.example, MODEL: sim`)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	startRegistry := func() (context.CancelFunc, chan int) { return f.startRegistry(ctx) }
	stopRegistry, regDone := startRegistry()
	defer func() { stopRegistry(); <-regDone }()
	startAgent := func(extra ...string) (*syncBuffer, func()) {
		return f.start(ctx, append([]string{"agent", "--config", cfgFile}, extra...)...)
	}
	waitFor := f.waitLog
	xiot := func(args ...string) (int, string) {
		code, out, errOut := runXiot(t, args...)
		return code, out + errOut
	}
	owned := f.things

	agentLog, stopAgent := startAgent()
	claimText := waitFor(agentLog, regexp.MustCompile(`xiot claim '([^']*)'`))[1]
	if code, out := xiot(append(append([]string{"claim"}, acct("owner")...), "--registry", p.ComponentDomain, claimText)...); code != exitOK {
		t.Fatalf("xiot claim: exit %d\n%s", code, out)
	}
	waitFor(agentLog, regexp.MustCompile(`registry: claimed`))
	if code, out := xiot(append(append([]string{"rules", "allow", "--fields", "Temperature"}, acct("owner")...),
		"--registry", p.ComponentDomain, "device@"+p.Domain, "alice@"+p.Domain, "read")...); code != exitOK {
		t.Fatalf("xiot rules: exit %d\n%s", code, out)
	}
	device := "device@" + p.Domain + "/agent"
	read := func(user string, extra ...string) (int, string) {
		return xiot(append(append(append([]string{"read", "--types", "momentary"}, acct(user)...), extra...), device)...)
	}
	if code, out := read("alice"); code != exitOK || !strings.Contains(out, "Temperature") || strings.Contains(out, "Humidity") {
		t.Fatalf("alice's read after the rule: exit %d\n%s", code, out)
	}

	// Down go the agent and the registry; the agent comes back with
	// other tags. The grant cached before the restart holds.
	stopAgent()
	cacheFile := filepath.Join(state, agentCacheFile)
	if fi, err := os.Stat(cacheFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("decision cache file: %v, %v", fi, err)
	}
	stopRegistry()
	if code := <-regDone; code != exitOK {
		t.Errorf("registry exit %d", code)
	}
	cfgFile = agentCfg(`SN: "0042", MODEL: sim2, LOC: lab`)
	agentLog, stopAgent = startAgent()
	waitFor(agentLog, regexp.MustCompile(`registry: registration failed; retrying`))
	if code, out := read("alice"); code != exitOK || !strings.Contains(out, "Temperature") || strings.Contains(out, "Humidity") {
		t.Errorf("alice's cached grant after a restart with the registry down: exit %d\n%s\nagent:\n%s", code, out, agentLog.String())
	}
	if code, out := read("alice", "--user-token", "new-question"); code == exitOK {
		t.Errorf("alice's uncached question answered with the registry down:\n%s", out)
	}
	if code, out := read("bob"); code == exitOK {
		t.Errorf("bob read with the registry down:\n%s", out)
	}

	// The registry is back: the changed tags go as an update, new
	// questions are answered.
	stopRegistry, regDone = startRegistry()
	waitFor(agentLog, regexp.MustCompile(`registry: meta tags updated[^\n]*changed=3`))
	out := owned()
	if !strings.Contains(out, `MODEL="sim2"`) || !strings.Contains(out, `LOC="lab"`) || strings.Contains(out, "MAN=") || !strings.Contains(out, `SN="0042"`) {
		t.Errorf("xiot things after the update:\n%s", out)
	}
	if code, out := xiot(append(append([]string{"things"}, acct("bob")...), "--registry", p.ComponentDomain, "MODEL=sim2", "LOC=lab")...); code != exitOK || !strings.Contains(out, "device@"+p.Domain) {
		t.Errorf("search for the new tags: exit %d\n%s", code, out)
	}
	if code, out := xiot(append(append([]string{"things"}, acct("bob")...), "--registry", p.ComponentDomain, "MODEL=sim")...); code != exitOK || strings.Contains(out, "device@") {
		t.Errorf("search for the old tag value: exit %d\n%s", code, out)
	}
	if code, out := read("alice", "--user-token", "new-question"); code != exitOK || !strings.Contains(out, "Temperature") {
		t.Errorf("alice's new question with the registry back: exit %d\n%s", code, out)
	}
	st, err := os.ReadFile(filepath.Join(state, agentRegistrationFile))
	if err != nil || !strings.Contains(string(st), `"s":"sim2"`) || strings.Contains(string(st), `"MAN"`) {
		t.Errorf("state file after the update: %s, %v", st, err)
	}

	// A reload (SIGHUP) with another MODEL: the agent's next generation
	// sends it.
	cfgFile = agentCfg(`SN: "0042", MODEL: sim3, LOC: lab`)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(agentLog, regexp.MustCompile(`(?s)xiot agent restarting with the new configuration.*registry: meta tags updated[^\n]*changed=1`))
	if out := owned(); !strings.Contains(out, `MODEL="sim3"`) || !strings.Contains(out, `LOC="lab"`) {
		t.Errorf("xiot things after the reload:\n%s", out)
	}

	// Unchanged tags are not sent again.
	stopAgent()
	agentLog, stopAgent = startAgent("--verbose")
	waitFor(agentLog, regexp.MustCompile(`registry: claimed, meta tags unchanged; nothing sent`))
	if strings.Contains(agentLog.String(), "meta tags updated") {
		t.Errorf("unchanged tags sent again:\n%s", agentLog.String())
	}
	stopAgent()

	// Unregistered: gone from the registry, KEY and cache deleted.
	code, out := xiot("agent", "--config", cfgFile, "--unregister")
	if code != exitOK || !strings.Contains(out, "unregistered device@"+p.Domain+" from "+p.ComponentDomain+" (it was owned by owner@"+p.Domain+")") {
		t.Fatalf("xiot agent --unregister: exit %d\n%s", code, out)
	}
	for _, f := range []string{agentRegistrationFile, agentCacheFile} {
		if _, err := os.Stat(filepath.Join(state, f)); !os.IsNotExist(err) {
			t.Errorf("%s after --unregister: %v", f, err)
		}
	}
	if out := owned(); strings.Contains(out, "device@") {
		t.Errorf("xiot things after --unregister:\n%s", out)
	}
	code, out = xiot("agent", "--config", cfgFile, "--unregister")
	if code == exitOK || !strings.Contains(out, "not registered") {
		t.Errorf("second --unregister: exit %d\n%s", code, out)
	}
}
