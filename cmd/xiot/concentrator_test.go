//go:build !xiot_small

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/sensors"
	"github.com/xiot/xiot/sensors/sensordata"
)

// TestConcentratorCommand runs "xiot concentrator" between a real
// mosquitto and a real Prosody, reads a bridged device through Prosody,
// and stops it as SIGINT would.
func TestConcentratorCommand(t *testing.T) {
	p := testserver.StartProsody(t, testserver.ProsodyOptions{})
	m := testserver.StartMosquitto(t, testserver.MosquittoOptions{})
	if err := p.Register("owner", "owner-pass"); err != nil {
		t.Fatal(err)
	}
	pub := mqttDevice(t, m.Addr, "sim")
	retain(t, pub, "plain/thermo1/Temperature", "21.5 °C")

	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte(p.ComponentSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "concentrator.yaml")
	yaml := fmt.Sprintf(`state_dir: %s
account:
  owners: [owner@%s]
component:
  domain: %s
  server: %s
  secret_file: %s
mqtt:
  brokers: [tcp://%s]
  client_id: concentrator-test
  mappings:
    - topic: "plain/{device}/{field}"
`, filepath.Join(dir, "state"), p.Domain, p.ComponentDomain, p.ComponentAddr, secret, m.Addr)
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}

	var out, errOut syncBuffer
	if err := runConcentrator(t.Context(), []string{"--config", cfgFile, "--check-config"}, &out, &errOut); err != nil || !strings.Contains(out.String(), "configuration ok") {
		t.Fatalf("--check-config: %v\n%s", err, errOut.String())
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan error, 1)
	go func() {
		done <- runConcentrator(ctx, []string{"--config", cfgFile, "--metrics", "127.0.0.1:0"}, &out, &errOut)
	}()

	j, _ := jid.Parse("owner@" + p.Domain + "/test")
	mux := &xmpp.Mux{}
	sd := sensordata.NewClient(mux)
	s := xmpp.New(xmpp.Config{JID: j, Password: "owner-pass", Server: p.C2SAddr, TLS: p.TLSConfig(), Keepalive: -1}, mux)
	cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Connect(cctx); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var res sensordata.Result
	var err error
	for {
		// Polls until the component is connected and the device known.
		rctx, rcancel := context.WithTimeout(cctx, time.Second)
		res, err = sd.Read(rctx, s, "thermo1@"+p.ComponentDomain, sensordata.Request{})
		rcancel()
		if err == nil && len(res.Fields) > 0 {
			break
		}
		if cctx.Err() != nil {
			t.Fatalf("no readout of thermo1 through the concentrator: %v %v\n%s", err, res, errOut.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if f := res.Fields[0]; f.Name != "Temperature" || !f.Value.Equal(sensors.Numeric(21.5)) || f.Unit != "°C" {
		t.Errorf("readout %v", res.Fields)
	}
	// The metrics endpoint counts the MQTT side.
	if m := regexp.MustCompile(`url=(http://[^ ]+/metrics)`).FindStringSubmatch(errOut.String()); m == nil {
		t.Errorf("no metrics endpoint in the log:\n%s", errOut.String())
	} else if resp, err := http.Get(m[1]); err != nil {
		t.Error(err)
	} else {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !regexp.MustCompile(`(?m)^xiot_mqtt_messages_total [1-9]`).Match(body) || !strings.Contains(string(body), "xiot_mqtt_devices 1") || !strings.Contains(string(body), "xiot_mqtt_decode_errors_total 0") || !strings.Contains(string(body), "xiot_mqtt_brokers_connected 1") {
			t.Errorf("concentrator metrics:\n%s", body)
		}
	}
	// xiot nodes browses the concentrator's tree (XEP-0326).
	ownerPass := filepath.Join(dir, "owner.pass")
	if err := os.WriteFile(ownerPass, []byte("owner-pass"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, nodesOut, nodesErr := runXiot(t, "nodes", "--jid", "owner@"+p.Domain, "--password-file", ownerPass, "--server", p.C2SAddr, "--ca-file", p.CAFile, p.ComponentDomain)
	if code != exitOK || !strings.Contains(nodesOut, "thermo1") || !strings.Contains(nodesOut, "MQTT") {
		t.Errorf("xiot nodes: exit %d\n%s\n%s", code, nodesOut, nodesErr)
	}
	code, nodesOut, nodesErr = runXiot(t, "nodes", "--json", "--params", "--source", "MQTTMappings", "--jid", "owner@"+p.Domain, "--password-file", ownerPass, "--server", p.C2SAddr, "--ca-file", p.CAFile, p.ComponentDomain)
	if code != exitOK || !strings.Contains(nodesOut, `"nodeId":"config-1"`) || !strings.Contains(nodesOut, `"topic":`) {
		t.Errorf("xiot nodes --json --params: exit %d\n%s\n%s", code, nodesOut, nodesErr)
	}
	// A topic mapping created over XEP-0326 bridges at once, its device
	// is read through the concentrator JID as a node, and both survive a
	// restart.
	retain(t, pub, "rt/dev7/v", "5")
	nodes := func(args ...string) (int, string, string) {
		t.Helper()
		return runXiot(t, append(append([]string{"nodes", "--jid", "owner@" + p.Domain, "--password-file", ownerPass, "--server", p.C2SAddr, "--ca-file", p.CAFile}, args...), p.ComponentDomain)...)
	}
	code, nodesOut, nodesErr = nodes("--form", "MQTTMappings/mappings", "--type", "xiot.mqtt.TopicMapping")
	if code != exitOK || !regexp.MustCompile(`(?m)^topic +text-single +required`).MatchString(nodesOut) {
		t.Errorf("xiot nodes --form of a new mapping: exit %d\n%s\n%s", code, nodesOut, nodesErr)
	}
	code, nodesOut, nodesErr = nodes("--create", "MQTTMappings/mappings", "--type", "xiot.mqtt.TopicMapping", "--set", "id=bad", "--set", "topic=a/#/b", "--set", "decoder=xml")
	if code == exitOK || !strings.Contains(nodesErr, "FormError") || !strings.Contains(nodesErr, "decoder: must be one of") || !strings.Contains(nodesErr, "topic: # must be the last") {
		t.Errorf("xiot nodes --create of an invalid mapping: exit %d\n%s\n%s", code, nodesOut, nodesErr)
	}
	code, nodesOut, nodesErr = nodes("--create", "MQTTMappings/mappings", "--type", "xiot.mqtt.TopicMapping", "--set", "id=rt", "--set", "topic=rt/{device}/v", "--set", "unit=W")
	if code != exitOK || !regexp.MustCompile(`(?m)^MQTTMappings +rt `).MatchString(nodesOut) {
		t.Fatalf("xiot nodes --create: exit %d\n%s\n%s", code, nodesOut, nodesErr)
	}
	readNode := func(id string) sensordata.Result {
		t.Helper()
		for {
			rctx, rcancel := context.WithTimeout(cctx, time.Second)
			res, err := sd.Read(rctx, s, p.ComponentDomain, sensordata.Request{Nodes: []sensordata.NodeRef{{NodeID: id, SourceID: "MQTT"}}})
			rcancel()
			if err == nil && len(res.Fields) > 0 {
				return res
			}
			if cctx.Err() != nil {
				t.Fatalf("no readout of node %s through the concentrator JID: %v %v", id, err, res)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if f := readNode("dev7").Fields[0]; f.Node != "dev7" || !f.Value.Equal(sensors.Numeric(5)) || f.Unit != "W" {
		t.Errorf("node dev7: %v", f)
	}
	// Node commands: list, then publish a sample through the mapping.
	code, nodesOut, nodesErr = nodes("--commands", "MQTTMappings/rt")
	if code != exitOK || !regexp.MustCompile(`(?m)^publishSample +Parameterized`).MatchString(nodesOut) {
		t.Errorf("xiot nodes --commands: exit %d\n%s\n%s", code, nodesOut, nodesErr)
	}
	code, nodesOut, nodesErr = nodes("--execute", "MQTTMappings/rt", "--command", "publishSample", "--set", "device=dev8", "--set", "payload=9", "--set", "retain=true")
	if code != exitOK || !strings.Contains(nodesOut, "Published.") {
		t.Errorf("xiot nodes --execute: exit %d\n%s\n%s", code, nodesOut, nodesErr)
	}
	if f := readNode("dev8").Fields[0]; !f.Value.Equal(sensors.Numeric(9)) {
		t.Errorf("node dev8 from the sample: %v", f)
	}
	code, nodesOut, nodesErr = nodes("--execute", "MQTTMappings/rt", "--command", "nope")
	if code == exitOK || !strings.Contains(nodesErr, "it has: resubscribe, publishSample") {
		t.Errorf("xiot nodes --execute of an unknown command: exit %d\n%s\n%s", code, nodesOut, nodesErr)
	}
	stopConcentrator := func() {
		t.Helper()
		stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("concentrator ended with %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("concentrator did not stop")
		}
	}
	stopConcentrator()
	ctx, stop = context.WithCancel(context.Background())
	defer stop()
	var out2, errOut2 syncBuffer
	go func() { done <- runConcentrator(ctx, []string{"--config", cfgFile}, &out2, &errOut2) }()
	if f := readNode("dev7").Fields[0]; !f.Value.Equal(sensors.Numeric(5)) || f.Unit != "W" {
		t.Errorf("node dev7 after the restart: %v", f)
	}
	code, nodesOut, nodesErr = runXiot(t, "nodes", "--json", "--source", "MQTTMappings", "--jid", "owner@"+p.Domain, "--password-file", ownerPass, "--server", p.C2SAddr, "--ca-file", p.CAFile, p.ComponentDomain)
	if code != exitOK || !strings.Contains(nodesOut, `"nodeId":"rt"`) {
		t.Errorf("created mapping after the restart: exit %d\n%s\n%s", code, nodesOut, nodesErr)
	}

	// A second broker, with a password from a file, and a mapping on it.
	m2 := testserver.StartMosquitto(t, testserver.MosquittoOptions{Users: map[string]string{"xiot": "m2-secret", "dev": "dev-pass"}})
	pub2 := mqttDevice(t, m2.Addr, "sim2", "dev", "dev-pass")
	retain(t, pub2, "far/far1/temp", "12.5")
	m2Pass := filepath.Join(dir, "m2.pass")
	if err := os.WriteFile(m2Pass, []byte("m2-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, nodesOut, nodesErr = nodes("--create", "MQTTBrokers/brokers", "--type", "xiot.mqtt.Broker",
		"--set", "id=site2", "--set", "url=tcp://"+m2.Addr, "--set", "username=xiot", "--set-file", "password="+m2Pass)
	if code != exitOK || !regexp.MustCompile(`(?m)^MQTTBrokers +site2 `).MatchString(nodesOut) {
		t.Fatalf("xiot nodes --create of a broker: exit %d\n%s\n%s", code, nodesOut, nodesErr)
	}
	code, nodesOut, nodesErr = nodes("--create", "MQTTMappings/mappings", "--type", "xiot.mqtt.TopicMapping",
		"--set", "id=far", "--set", "topic=far/{device}/temp", "--set", "unit=°C", "--set", "broker=site2")
	if code != exitOK {
		t.Fatalf("xiot nodes --create of a mapping on site2: exit %d\n%s\n%s", code, nodesOut, nodesErr)
	}
	if f := readNode("far1").Fields[0]; !f.Value.Equal(sensors.Numeric(12.5)) || f.Unit != "°C" {
		t.Errorf("node far1 from the second broker: %v", f)
	}
	code, nodesOut, nodesErr = nodes("--json", "--form", "MQTTBrokers/site2")
	if code != exitOK || strings.Contains(nodesOut, "m2-secret") || !strings.Contains(nodesOut, `"var":"password"`) {
		t.Errorf("xiot nodes --form of a broker: exit %d\n%s\n%s", code, nodesOut, nodesErr)
	}
	code, nodesOut, nodesErr = nodes("--edit", "MQTT/far1", "--set", "name=Boiler")
	if code != exitOK || !strings.Contains(nodesOut, "Boiler") {
		t.Errorf("xiot nodes --edit: exit %d\n%s\n%s", code, nodesOut, nodesErr)
	}
	code, nodesOut, nodesErr = nodes("--destroy", "MQTTBrokers/site2")
	if code == exitOK || !strings.Contains(nodesErr, "Locked") || !strings.Contains(nodesErr, "far") {
		t.Errorf("xiot nodes --destroy of a broker in use: exit %d\n%s\n%s", code, nodesOut, nodesErr)
	}
	for _, ref := range []string{"MQTTMappings/far", "MQTTBrokers/site2"} {
		if code, nodesOut, nodesErr = nodes("--destroy", ref); code != exitOK || !strings.Contains(nodesOut, "destroyed "+ref) {
			t.Errorf("xiot nodes --destroy %s: exit %d\n%s\n%s", ref, code, nodesOut, nodesErr)
		}
	}
	stopConcentrator()
	for _, want := range []string{"xiot concentrator starting", "MQTT broker connected", "XMPP component online", "xiot concentrator stopped"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, errOut.String())
		}
	}
}

func TestConcentratorUsage(t *testing.T) {
	var out, errOut syncBuffer
	if err := runConcentrator(t.Context(), []string{"--help"}, &out, &errOut); !errors.Is(err, errHelp) || !strings.Contains(out.String(), "Examples:") {
		t.Errorf("--help: %v\n%s", err, out.String())
	}
	var ue *usageError
	if err := runConcentrator(t.Context(), nil, &out, &errOut); !errors.As(err, &ue) || !strings.Contains(err.Error(), "--config") {
		t.Errorf("no --config: %v", err)
	}
	dir := t.TempDir()
	f := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(f, []byte("state_dir: "+dir+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := runConcentrator(t.Context(), []string{"--config", f}, &out, &errOut); err == nil || !strings.Contains(err.Error(), "mqtt.brokers") {
		t.Errorf("no broker configured: %v", err)
	}
}

// TestConcentratorClientMode runs "xiot concentrator" with no component
// section: it logs in as the account (TLS verified against the test CA,
// SCRAM) and serves the bridged devices as nodes of that one JID, read
// by nodeId and browsed with xiot nodes; a stranger is refused.
func TestConcentratorClientMode(t *testing.T) {
	p := testserver.StartProsody(t, testserver.ProsodyOptions{ExtraModules: []string{"smacks"}})
	m := testserver.StartMosquitto(t, testserver.MosquittoOptions{})
	for _, u := range []string{"owner", "stranger", "bridge"} {
		if err := p.Register(u, u+"-pass"); err != nil {
			t.Fatal(err)
		}
	}
	pub := mqttDevice(t, m.Addr, "sim")
	retain(t, pub, "plain/thermo1/Temperature", "21.5 °C")
	dir := t.TempDir()
	pass := func(name string) string {
		f := filepath.Join(dir, name+".pass")
		if err := os.WriteFile(f, []byte(name+"-pass"), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	cfgFile := filepath.Join(dir, "concentrator.yaml")
	full := "bridge@" + p.Domain + "/concentrator"
	yaml := fmt.Sprintf(`state_dir: %s
account:
  jid: %s
  password_file: %s
  server: %s
  ca_file: %s
  owners: [owner@%s]
xmpp:
  stream_management: true
mqtt:
  brokers: [tcp://%s]
  client_id: concentrator-client-test
  mappings:
    - topic: "plain/{device}/{field}"
`, filepath.Join(dir, "state"), full, pass("bridge"), p.C2SAddr, p.CAFile, p.Domain, m.Addr)
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut syncBuffer
	if err := runConcentrator(t.Context(), []string{"--config", cfgFile, "--check-config"}, &out, &errOut); err != nil || !strings.Contains(out.String(), "configuration ok") {
		t.Fatalf("--check-config: %v\n%s", err, errOut.String())
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan error, 1)
	go func() { done <- runConcentrator(ctx, []string{"--config", cfgFile}, &out, &errOut) }()

	login := func(name string) (*xmpp.Session, *sensordata.Client) {
		j, _ := jid.Parse(name + "@" + p.Domain + "/test")
		mux := &xmpp.Mux{}
		sd := sensordata.NewClient(mux)
		s := xmpp.New(xmpp.Config{JID: j, Password: name + "-pass", Server: p.C2SAddr, TLS: p.TLSConfig(), Keepalive: -1}, mux)
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.Connect(cctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s, sd
	}
	s, sd := login("owner")
	cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var res sensordata.Result
	var err error
	for {
		// Polls until the concentrator is online and the device known.
		rctx, rcancel := context.WithTimeout(cctx, time.Second)
		res, err = sd.Read(rctx, s, full, sensordata.Request{Nodes: []sensordata.NodeRef{{NodeID: "thermo1", SourceID: "MQTT"}}})
		rcancel()
		if err == nil && len(res.Fields) > 0 {
			break
		}
		if cctx.Err() != nil {
			t.Fatalf("no readout of node thermo1 through the concentrator's account: %v %v\n%s", err, res, errOut.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if f := res.Fields[0]; f.Node != "thermo1" || f.Name != "Temperature" || !f.Value.Equal(sensors.Numeric(21.5)) {
		t.Errorf("readout %v", res.Fields)
	}
	ss, ssd := login("stranger")
	var se *xmpp.StanzaError
	if _, err := ssd.Read(cctx, ss, full, sensordata.Request{Nodes: []sensordata.NodeRef{{NodeID: "thermo1"}}}); !errors.As(err, &se) || se.Condition != "forbidden" {
		t.Errorf("stranger's readout: %v, want forbidden", err)
	}
	code, nodesOut, nodesErr := runXiot(t, "nodes", "--jid", "owner@"+p.Domain, "--password-file", pass("owner"), "--server", p.C2SAddr, "--ca-file", p.CAFile, full)
	if code != exitOK || !strings.Contains(nodesOut, "thermo1") || !strings.Contains(nodesOut, "MQTTMappings") {
		t.Errorf("xiot nodes: exit %d\n%s\n%s", code, nodesOut, nodesErr)
	}
	// The bare JID is the server's to answer: xiot nodes says where the
	// concentrator listens.
	code, _, nodesErr = runXiot(t, "nodes", "--jid", "owner@"+p.Domain, "--password-file", pass("owner"), "--server", p.C2SAddr, "--ca-file", p.CAFile, "bridge@"+p.Domain)
	if code == exitOK || !strings.Contains(nodesErr, "full JID") {
		t.Errorf("xiot nodes to the bare JID: exit %d\n%s", code, nodesErr)
	}
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("concentrator ended with %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("concentrator did not stop")
	}
	for _, want := range []string{"mode=client", "XMPP client online", "xiot concentrator stopped"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, errOut.String())
		}
	}
}
