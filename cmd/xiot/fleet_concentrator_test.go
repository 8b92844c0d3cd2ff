//go:build !xiot_small

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/internal/xmpp"
)

// TestFleetConcentratorEndToEnd is issue 8's scenario for a device behind
// the concentrator, with the real commands, a real Prosody and a real
// mosquitto: a device published to the broker appears as
// thermo1@mqtt.localhost, registers with `xiot registry` and its claim
// text is listed by `xiot concentrator --claims`; the owner claims it
// with `xiot claim`; a third party is refused friendship and readout; the
// owner allows it two fields with `xiot rules`; the third party then reads
// exactly those and cannot set anything; with the registry down the
// cached grant holds and every other question is refused; the owner
// revokes and the refusal holds at once (clearCache); a friend rule then
// lets the third party subscribe, and a control rule for one parameter
// lets it set that one only.
func TestFleetConcentratorEndToEnd(t *testing.T) {
	const mqttDomain = "mqtt.localhost"
	mqttSecret := fmt.Sprintf("concentrator-%d", time.Now().UnixNano())
	f := newFleet(t, testserver.ProsodyOptions{
		ExtraConfig: fmt.Sprintf("Component %q\n    component_secret = %q\n", mqttDomain, mqttSecret),
	}, "owner", "alice", "bob")
	p, dir, write, acct, regLog := f.p, f.dir, f.write, f.acct, &f.regLog
	m := testserver.StartMosquitto(t, testserver.MosquittoOptions{})

	// The device: three retained readings and two switches; it echoes
	// commands as Tasmota does, and the test records them.
	pub := mqttDevice(t, m.Addr, "thermo1")
	var cmdMu sync.Mutex
	var commands []string
	echo := func(c mqtt.Client, msg mqtt.Message) {
		cmdMu.Lock()
		commands = append(commands, msg.Topic()+"="+string(msg.Payload()))
		cmdMu.Unlock()
		c.Publish(strings.Replace(msg.Topic(), "cmnd/", "stat/", 1), 1, true, msg.Payload())
	}
	if tok := pub.Subscribe("cmnd/#", 1, echo); !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	for topic, v := range map[string]string{"plain/thermo1/Temperature": "21.5 °C", "plain/thermo1/Humidity": "40 %",
		"plain/thermo1/Pressure": "1013 hPa", "stat/thermo1/POWER": "ON", "stat/thermo1/LIGHT": "OFF"} {
		retain(t, pub, topic, v)
	}

	concSecret := write("concentrator.secret", mqttSecret)
	concCfg := write("concentrator.yaml", fmt.Sprintf(`state_dir: %s
component:
  domain: %s
  server: %s
  secret_file: %s
mqtt:
  brokers: [tcp://%s]
  client_id: concentrator-fleet
  mappings:
    - topic: "plain/{device}/{field}"
    - topic: "stat/{device}/POWER"
      field: Power
      type: boolean
      command_topic: "cmnd/{device}/POWER"
      payload_on: "ON"
      payload_off: "OFF"
    - topic: "stat/{device}/LIGHT"
      field: Light
      type: boolean
      command_topic: "cmnd/{device}/LIGHT"
      payload_on: "ON"
      payload_off: "OFF"
provisioning:
  registry: %s
  timeout: 3s
  meta: {MAN: xiot.example, MODEL: mqtt}
`, filepath.Join(dir, "concentrator-state"), mqttDomain, p.ComponentAddr, concSecret, m.Addr, p.ComponentDomain))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var concLog syncBuffer
	startRegistry := func() (context.CancelFunc, chan int) { return f.startRegistry(ctx) }
	stopRegistry, regDone := startRegistry()
	concDone := make(chan int, 1)
	go func() { concDone <- run(ctx, []string{"concentrator", "--config", concCfg}, &concLog, &concLog) }()
	defer func() { cancel(); <-regDone; <-concDone }()
	waitFor := f.waitLog

	// Registered: the claim text is in the log and in --claims.
	device := "thermo1@" + mqttDomain
	logged := waitFor(&concLog, regexp.MustCompile(`xiot claim '([^']*)'[^\n]*jid=`+regexp.QuoteMeta(device)))[1]
	code, out, errOut := runXiot(t, "concentrator", "--config", concCfg, "--claims")
	if code != exitOK {
		t.Fatalf("--claims: exit %d\n%s\n%s", code, out, errOut)
	}
	cols := strings.Split(strings.TrimSpace(out), "\t")
	if len(cols) != 3 || cols[0] != device || cols[1] != "unclaimed" || cols[2] != logged || !strings.Contains(logged, "KEY:") || !strings.Contains(logged, "SN:thermo1") {
		t.Fatalf("--claims printed %q; the log says %q", out, logged)
	}
	if fi, err := os.Stat(filepath.Join(dir, "concentrator-state", "concentrator-registrations")); err != nil {
		t.Fatal(err)
	} else if ents, _ := os.ReadDir(filepath.Join(dir, "concentrator-state", "concentrator-registrations")); len(ents) != 1 || !fi.IsDir() {
		t.Fatalf("registration files: %v", ents)
	} else if info, _ := ents[0].Info(); info.Mode().Perm() != 0o600 {
		t.Errorf("registration file mode %v, want 0600", info.Mode().Perm())
	}

	// Claimed with xiot claim; the device learns its owner.
	claimArgs := append(append([]string{"claim"}, acct("owner")...), "--registry", p.ComponentDomain, logged)
	if code, out, errOut := runXiot(t, claimArgs...); code != exitOK {
		t.Fatalf("xiot claim: exit %d\n%s\n%s\nregistry:\n%s", code, out, errOut, regLog.String())
	}
	waitFor(&concLog, regexp.MustCompile(`registry: claimed[^\n]*jid=`+regexp.QuoteMeta(device)))
	if _, out, _ := runXiot(t, "concentrator", "--config", concCfg, "--claims"); !strings.Contains(out, device+"\towner@"+p.Domain+"\t") {
		t.Errorf("--claims after the claim: %q", out)
	}

	read := func(user string, extra ...string) (int, string, string) {
		args := append(append(append([]string{"read", "--types", "momentary"}, acct(user)...), extra...), device)
		return runXiot(t, args...)
	}
	fieldNames := func(out string) map[string]bool {
		// The table's node column is empty for the device itself: the
		// field name starts under the FIELD heading.
		lines := strings.Split(out, "\n")
		col := strings.Index(lines[0], "FIELD")
		names := map[string]bool{}
		for _, line := range lines[1:] {
			if col < 0 || len(line) <= col {
				continue
			}
			if f := strings.Fields(line[col:]); len(f) > 0 {
				names[f[0]] = true
			}
		}
		return names
	}
	// The owner reads everything without a rule.
	if code, out, errOut := read("owner"); code != exitOK || len(fieldNames(out)) != 5 {
		t.Fatalf("the owner's read: exit %d\n%s\n%s\n%s", code, out, errOut, concLog.String())
	}

	// Alice is refused friendship and readout.
	if got := subscribe(t, p, "alice", device); got != "unsubscribed" {
		t.Errorf("alice's subscription request answered %q, want unsubscribed", got)
	}
	if code, out, _ := read("alice"); code == exitOK {
		t.Fatalf("alice read the device before any rule:\n%s", out)
	}

	rules := func(args ...string) {
		t.Helper()
		all := append(append([]string{"rules", args[0]}, append(acct("owner"), "--registry", p.ComponentDomain)...), args[1:]...)
		if code, out, errOut := runXiot(t, all...); code != exitOK {
			t.Fatalf("xiot %s: exit %d\n%s\n%s", strings.Join(all, " "), code, out, errOut)
		}
	}
	rules("allow", "--fields", "Temperature,Humidity", device, "alice@"+p.Domain, "read")
	code, out, errOut = read("alice")
	if code != exitOK {
		t.Fatalf("alice's read after the rule: exit %d\n%s\n%s\n%s", code, out, errOut, concLog.String())
	}
	if names := fieldNames(out); !names["Temperature"] || !names["Humidity"] || len(names) != 2 {
		t.Errorf("alice read fields %v, want exactly Temperature and Humidity:\n%s", names, out)
	}
	code, out, errOut = runXiot(t, append(append([]string{"set"}, acct("alice")...), device, "Power=false")...)
	if code == exitOK || !strings.Contains(out+errOut, "forbidden") {
		t.Errorf("alice's set: exit %d, want forbidden\n%s\n%s", code, out, errOut)
	}

	// The registry goes away: the cached grant holds, nothing else does.
	stopRegistry()
	if code := <-regDone; code != exitOK {
		t.Errorf("registry exit %d", code)
	}
	code, out, errOut = read("alice")
	if names := fieldNames(out); code != exitOK || !names["Temperature"] || !names["Humidity"] || len(names) != 2 {
		t.Errorf("alice's cached grant with the registry down: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, out, _ := read("alice", "--user-token", "new-question"); code == exitOK {
		t.Errorf("alice read with an uncached question while the registry is down:\n%s", out)
	}
	if code, out, _ := read("bob"); code == exitOK {
		t.Errorf("bob read while the registry is down:\n%s", out)
	}
	if got := subscribe(t, p, "bob", device); got != "unsubscribed" {
		t.Errorf("bob's subscription request with the registry down answered %q, want unsubscribed", got)
	}
	if !strings.Contains(concLog.String(), "no decision from the provisioning server") {
		t.Errorf("the concentrator did not log a failed question:\n%s", concLog.String())
	}

	// Back up; the owner revokes, and the device knows at once.
	stopRegistry, regDone = startRegistry()
	waitFor(regLog, regexp.MustCompile(`(?s)registry stopped.*XMPP component online`))
	rules("deny", device, "alice@"+p.Domain, "read")
	if code, out, _ := read("alice"); code == exitOK {
		t.Errorf("alice still reads after the owner revoked:\n%s", out)
	}
	// Friendship allowed: the device now accepts alice's subscription.
	rules("allow", device, "alice@"+p.Domain, "friend")
	if got := subscribe(t, p, "alice", device); got != "subscribed" {
		t.Errorf("alice's subscription request after the friend rule answered %q, want subscribed", got)
	}
	// The registry's friend recommendation reached the device.
	waitFor(&concLog, regexp.MustCompile(`befriending device=thermo1 friend=alice@`))
	// Control of one parameter: alice sets Light, still not Power.
	set := func(param string) (int, string) {
		code, out, errOut := runXiot(t, append(append([]string{"set"}, acct("alice")...), device, param)...)
		return code, out + errOut
	}
	rules("allow", "--params", "Light", device, "alice@"+p.Domain, "control")
	if code, out := set("Light=true"); code != exitOK {
		t.Errorf("alice's set of Light after the control rule: exit %d\n%s", code, out)
	}
	if code, out := set("Power=false"); code == exitOK || !strings.Contains(out, "forbidden") {
		t.Errorf("alice's set of Power: exit %d, want forbidden\n%s", code, out)
	}
	cmdMu.Lock()
	defer cmdMu.Unlock()
	if len(commands) != 1 || commands[0] != "cmnd/thermo1/LIGHT=ON" {
		t.Errorf("commands that reached the device: %q, want only cmnd/thermo1/LIGHT=ON", commands)
	}
	_ = stopRegistry
}

// subscribe asks for a presence subscription to device as user and
// returns the type of the device's answer ("" when none came).
func subscribe(t *testing.T, p *testserver.Prosody, user, device string) string {
	t.Helper()
	mux := &xmpp.Mux{}
	answer := make(chan string, 4)
	mux.Presence(xmpp.HandlerFunc(func(_ context.Context, _ *xmpp.Session, st *xmpp.Element) error {
		if from, err := jid.Parse(st.Get("from")); err == nil && from.Bare().String() == device {
			if typ := st.Get("type"); typ == "subscribed" || typ == "unsubscribed" {
				answer <- typ
			}
		}
		return nil
	}))
	s := xmpp.New(xmpp.Config{JID: jid.MustParse(user + "@" + p.Domain + "/sub"), Password: user + "-secret",
		Server: p.C2SAddr, TLS: p.TLSConfig(), Keepalive: -1}, mux)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Only resources that asked for the roster get subscription answers.
	if _, err := s.SendIQ(ctx, xmpp.NewElement("", "iq", "type", "get").Add(xmpp.NewElement("jabber:iq:roster", "query"))); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(ctx, xmpp.NewElement("", "presence", "to", device, "type", "subscribe")); err != nil {
		t.Fatal(err)
	}
	select {
	case typ := <-answer:
		return typ
	case <-time.After(10 * time.Second):
		return ""
	}
}
