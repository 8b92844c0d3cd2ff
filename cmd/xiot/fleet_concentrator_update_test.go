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

	"github.com/xiot/xiot/concentrator/component"
	"github.com/xiot/xiot/internal/testserver"
)

// TestFleetConcentratorUpdateUnregister is the rest of issue 8's device
// side for a Homie device behind the concentrator, with the real
// commands, a real Prosody, mosquitto and `xiot registry`: once claimed,
// a new Homie $name is sent to the registry as an update of the NAME tag
// (searches find it, `xiot things` shows it); after a restart of the
// concentrator with the registry down, the grant cached before holds and
// everything else is refused; with the registry back, new questions are
// answered and the unchanged tags are not sent again; `xiot concentrator
// --unregister` removes the device from the registry and deletes its KEY
// and decision cache, and a second one is refused.
func TestFleetConcentratorUpdateUnregister(t *testing.T) {
	const mqttDomain = "mqtt.localhost"
	mqttSecret := fmt.Sprintf("concentrator-%d", time.Now().UnixNano())
	f := newFleet(t, testserver.ProsodyOptions{
		ExtraConfig: fmt.Sprintf("Component %q\n    component_secret = %q\n", mqttDomain, mqttSecret),
	}, "owner", "alice", "bob")
	p, dir, write, acct, regLog := f.p, f.dir, f.write, f.acct, &f.regLog
	m := testserver.StartMosquitto(t, testserver.MosquittoOptions{})

	pub := mqttDevice(t, m.Addr, "boiler")
	publish := func(topic, v string) { t.Helper(); retain(t, pub, topic, v) }
	for _, kv := range [][2]string{
		{"$homie", "4.0"}, {"$name", "Boiler"}, {"$nodes", "sensor"}, {"sensor/$name", "Sensor"},
		{"sensor/$properties", "temperature,humidity"},
		{"sensor/temperature/$datatype", "float"}, {"sensor/temperature/$unit", "°C"}, {"sensor/temperature", "61.5"},
		{"sensor/humidity/$datatype", "float"}, {"sensor/humidity/$unit", "%"}, {"sensor/humidity", "40"},
		{"$state", "ready"},
	} {
		publish("homie/boiler/"+kv[0], kv[1])
	}

	concSecret := write("concentrator.secret", mqttSecret)
	state := filepath.Join(dir, "concentrator-state")
	concCfg := write("concentrator.yaml", fmt.Sprintf(`state_dir: %s
component:
  domain: %s
  server: %s
  secret_file: %s
mqtt:
  brokers: [tcp://%s]
  client_id: concentrator-update
  homie: {enabled: true}
provisioning:
  registry: %s
  timeout: 3s
  meta: {MAN: xiot.example, MODEL: homie}
`, state, mqttDomain, p.ComponentAddr, concSecret, m.Addr, p.ComponentDomain))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	startRegistry := func() (context.CancelFunc, chan int) { return f.startRegistry(ctx) }
	stopRegistry, regDone := startRegistry()
	regUp := true
	defer func() {
		if regUp {
			stopRegistry()
			<-regDone
		}
	}()
	startConcentrator := func(extra ...string) (*syncBuffer, func()) {
		return f.start(ctx, append([]string{"concentrator", "--config", concCfg}, extra...)...)
	}
	waitFor := f.waitLog
	xiot := func(args ...string) (int, string) {
		code, out, errOut := runXiot(t, args...)
		return code, out + errOut
	}
	owned := f.things
	search := func(term string) string {
		t.Helper()
		code, out := xiot(append(append([]string{"things"}, acct("bob")...), "--registry", p.ComponentDomain, term)...)
		if code != exitOK {
			t.Fatalf("xiot things %s: exit %d\n%s", term, code, out)
		}
		return out
	}

	device := "boiler@" + mqttDomain
	concLog, stopConcentrator := startConcentrator()
	claimText := waitFor(concLog, regexp.MustCompile(`xiot claim '([^']*)'[^\n]*jid=`+regexp.QuoteMeta(device)))[1]
	if !strings.Contains(claimText, "NAME:Boiler;") && !strings.HasSuffix(claimText, "NAME:Boiler") {
		t.Errorf("claim text %q lacks the Homie $name", claimText)
	}
	if code, out := xiot(append(append([]string{"claim"}, acct("owner")...), "--registry", p.ComponentDomain, claimText)...); code != exitOK {
		t.Fatalf("xiot claim: exit %d\n%s", code, out)
	}
	waitFor(concLog, regexp.MustCompile(`registry: claimed[^\n]*jid=`+regexp.QuoteMeta(device)))
	if code, out := xiot(append(append([]string{"rules", "allow", "--fields", "temperature"}, acct("owner")...),
		"--registry", p.ComponentDomain, device, "alice@"+p.Domain, "read")...); code != exitOK {
		t.Fatalf("xiot rules: exit %d\n%s", code, out)
	}
	read := func(user string, extra ...string) (int, string) {
		return xiot(append(append(append([]string{"read", "--types", "momentary"}, acct(user)...), extra...), device)...)
	}
	granted := func(code int, out string) bool {
		return code == exitOK && strings.Contains(out, "temperature") && !strings.Contains(out, "humidity")
	}
	if code, out := read("alice"); !granted(code, out) {
		t.Fatalf("alice's read after the rule: exit %d\n%s\n%s", code, out, concLog.String())
	}

	// A new Homie $name: the claimed device sends its NAME as an update.
	publish("homie/boiler/$name", "Boiler room")
	waitFor(concLog, regexp.MustCompile(`registry: meta tags updated" device=boiler [^\n]*changed=1`))
	if out := owned(); !strings.Contains(out, device) || !strings.Contains(out, `NAME="Boiler room"`) || !strings.Contains(out, `MODEL="homie"`) {
		t.Errorf("xiot things after the update:\n%s", out)
	}
	if out := search("NAME=Boiler room"); !strings.Contains(out, device) {
		t.Errorf("search for the new NAME:\n%s", out)
	}
	if out := search("NAME=Boiler"); strings.Contains(out, device) {
		t.Errorf("search for the old NAME found the device:\n%s", out)
	}

	// A restart with the registry down: the cached grant holds.
	stopConcentrator()
	caches, err := os.ReadDir(filepath.Join(state, component.CachesDir))
	if err != nil || len(caches) != 1 {
		t.Fatalf("decision cache files: %v, %v", caches, err)
	}
	if fi, err := caches[0].Info(); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("decision cache file: %v, %v", fi, err)
	}
	stopRegistry()
	regUp = false
	if code := <-regDone; code != exitOK {
		t.Errorf("registry exit %d", code)
	}
	// Claimed, with the tags the registry has: nothing is sent.
	concLog, stopConcentrator = startConcentrator("--verbose")
	waitFor(concLog, regexp.MustCompile(`registry: claimed, meta tags unchanged; nothing sent" device=boiler`))
	if code, out := read("alice"); !granted(code, out) {
		t.Errorf("alice's cached grant after a restart with the registry down: exit %d\n%s\n%s", code, out, concLog.String())
	}
	if code, out := read("alice", "--user-token", "new-question"); code == exitOK {
		t.Errorf("alice's uncached question answered with the registry down:\n%s", out)
	}
	if code, out := read("bob"); code == exitOK {
		t.Errorf("bob read with the registry down:\n%s", out)
	}

	// The registry is back: new questions are answered.
	stopRegistry, regDone = startRegistry()
	regUp = true
	waitFor(regLog, regexp.MustCompile(`(?s)registry stopped.*XMPP component online`))
	if code, out := read("alice", "--user-token", "new-question"); !granted(code, out) {
		t.Errorf("alice's new question with the registry back: exit %d\n%s", code, out)
	}
	if strings.Contains(concLog.String(), "meta tags updated") {
		t.Errorf("unchanged tags sent again:\n%s", concLog.String())
	}
	// Not while the concentrator runs: the server admits one connection
	// per component.
	if code, out := xiot("concentrator", "--config", concCfg, "--unregister", "boiler"); code == exitOK || !strings.Contains(out, "stop the running concentrator first") {
		t.Errorf("--unregister while the concentrator runs: exit %d\n%s", code, out)
	}
	if code, out := read("alice"); !granted(code, out) {
		t.Errorf("alice's read after the refused --unregister: exit %d\n%s", code, out)
	}
	stopConcentrator()

	// Unregistered: gone from the registry, KEY and cache deleted.
	code, out := xiot("concentrator", "--config", concCfg, "--unregister", "boiler")
	if code != exitOK || !strings.Contains(out, "unregistered "+device+" from "+p.ComponentDomain+" (it was owned by owner@"+p.Domain+")") {
		t.Fatalf("--unregister boiler: exit %d\n%s", code, out)
	}
	for _, d := range []string{component.RegistrationsDir, component.CachesDir} {
		if ents, err := os.ReadDir(filepath.Join(state, d)); err != nil || len(ents) != 0 {
			t.Errorf("%s after --unregister: %v, %v", d, ents, err)
		}
	}
	if out := owned(); strings.Contains(out, device) {
		t.Errorf("xiot things after --unregister:\n%s", out)
	}
	code, out = xiot("concentrator", "--config", concCfg, "--unregister", "boiler")
	if code == exitOK || !strings.Contains(out, `device "boiler" (`+device+") is not registered") {
		t.Errorf("second --unregister: exit %d\n%s", code, out)
	}
	code, out = xiot("concentrator", "--config", concCfg, "--unregister-all")
	if code == exitOK || !strings.Contains(out, "no device is registered") {
		t.Errorf("--unregister-all with nothing registered: exit %d\n%s", code, out)
	}
}
