package iotcontrol_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xiot/xiot/control"
	"github.com/xiot/xiot/control/iotcontrol"
	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/internal/xmpp"
)

type slixStep struct {
	Step         int        `json:"step"`
	Type         string     `json:"type"`
	ResponseCode string     `json:"responseCode"`
	Result       string     `json:"result"`
	Condition    string     `json:"condition"`
	EType        string     `json:"etype"`
	ParamErrors  [][]string `json:"paramErrors"`
}

// TestSlixmppControlsOurDevice has slixmpp's XEP-0325 plugin (the 2013
// draft) set parameters on our Server, by IQ, through the plugin's own
// set_request and set_command, and checks what it makes of our errors.
func TestSlixmppControlsOurDevice(t *testing.T) {
	py := testserver.SlixmppPython(t, "slixmpp.plugins.xep_0325")
	p := testserver.StartProsody(t, testserver.ProsodyOptions{})
	dev := newDevice(t, t.TempDir(), nil)
	mux := &xmpp.Mux{}
	dev.srv.Register(mux)
	devSess := connect(t, clientConfig(t, p, "device", "agent"), mux)
	if err := p.Register("slix", "slix-pass"); err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(p.C2SAddr, ":")
	steps := `[
	  {"kind": "request", "fields": [["Heater", "boolean", "true"]]},
	  {"kind": "request", "fields": [["OutputPercent", "int", "200"]]},
	  {"kind": "request", "fields": [["OutputPercent", "boolean", "true"]]},
	  {"kind": "request", "fields": [["Nope", "int", "1"]]},
	  {"kind": "command", "fields": [["Level", "double", "3.5"]]},
	  {"kind": "plugin", "fields": [["Row1", "string", "hello"]]},
	  {"kind": "request", "nodes": ["thermostat"], "fields": [["Setpoint", "double", "22"]]},
	  {"kind": "request", "fields": [["Color", "color", "3399FF"], ["AlarmTime", "time", "08:00:00"], ["TariffStartDate", "date", "2014-01-01"],
	     ["AlarmAt", "dateTime", "2014-01-01T06:00:00Z"], ["AlarmDuration", "duration", "PT5M"], ["Counter", "long", "5000000000"]]}
	]`
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "testdata/slixmpp_control.py", "controller", "slix@localhost/py", "slix-pass", host, port, p.CAFile, devSess.LocalJID().String())
	cmd.Stdin = strings.NewReader(steps)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("slixmpp controller: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.String())
	}
	got := map[int]slixStep{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var s slixStep
		if err := json.Unmarshal([]byte(l), &s); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		got[s.Step] = s
	}
	check := func(i int, typ, cond string, perr ...string) {
		t.Helper()
		s := got[i]
		if s.Type != typ || s.Condition != cond {
			t.Errorf("step %d: %+v, want %s %s", i, s, typ, cond)
		}
		if len(perr) > 0 && (len(s.ParamErrors) != 1 || s.ParamErrors[0][0] != perr[0] || s.ParamErrors[0][1] != perr[1]) {
			t.Errorf("step %d: paramErrors %v, want %v", i, s.ParamErrors, perr)
		}
	}
	check(0, "result", "")
	check(1, "error", "bad-request", "OutputPercent", iotcontrol.TextWrongValue)
	check(2, "error", "bad-request", "OutputPercent", iotcontrol.TextWrongType)
	check(3, "error", "item-not-found", "Nope", iotcontrol.TextNotFound)
	check(4, "sent", "")
	// The plugin's callback sees our v0.5.1 setResponse, without the 2013
	// responseCode, as a result with an empty code.
	if s := got[5]; s.Type != "callback" || s.Result != "" {
		t.Errorf("plugin set_request: %+v", s)
	}
	check(6, "result", "")
	check(7, "result", "")
	want := map[string]string{
		"Heater": "true", "OutputPercent": "100", "Level": "3.5", "Row1": "hello", "thermostat/Setpoint": "22",
		"Color": "3399FF", "AlarmTime": "08:00:00", "TariffStartDate": "2014-01-01", "AlarmAt": "2014-01-01T06:00:00Z",
		"AlarmDuration": "PT5M", "Counter": "5000000000",
	}
	for k, v := range want {
		node, name, ok := strings.Cut(k, "/")
		if !ok {
			node, name = "", k
		}
		if k == "Level" {
			// The message is not answered: wait for it.
			waitFor(t, "Level set by slixmpp's message", func() bool { return dev.get(t, "", "Level") == v })
		}
		if g := dev.get(t, node, name); g != v {
			t.Errorf("%s = %q after slixmpp's sets, want %q", k, g, v)
		}
	}
}

// TestOurClientControlsSlixmppDevice has our client (the code behind
// "xiot set") control a slixmpp XEP-0325 device, which has no control form
// and answers in the 2013 draft's form.
func TestOurClientControlsSlixmppDevice(t *testing.T) {
	py := testserver.SlixmppPython(t, "slixmpp.plugins.xep_0325")
	p := testserver.StartProsody(t, testserver.ProsodyOptions{})
	if err := p.Register("slixdev", "slixdev-pass"); err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(p.C2SAddr, ":")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "testdata/slixmpp_control.py", "device", "slixdev@localhost/py", "slixdev-pass", host, port, p.CAFile)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("slixmpp device stderr:\n%s", stderr.String())
		}
	})
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	next := func(what string) string {
		t.Helper()
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("slixmpp device exited while waiting for %s", what)
			}
			return l
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		}
		return ""
	}
	if l := next("ready"); l != "ready" {
		t.Fatalf("slixmpp device said %q, want ready", l)
	}
	cli := connect(t, clientConfig(t, p, "operator", "cli"), nil)
	to := "slixdev@localhost/py"

	// No control form: the client falls back to guessing types.
	if _, err := iotcontrol.FetchForm(ctx, cli, to); err == nil {
		t.Fatal("slixmpp device returned a control form")
	}
	assign := func(args ...string) []iotcontrol.Param {
		t.Helper()
		var as []iotcontrol.Assignment
		for _, a := range args {
			x, err := iotcontrol.ParseAssignment(a)
			if err != nil {
				t.Fatal(err)
			}
			as = append(as, x)
		}
		ps, err := iotcontrol.TypedParams(as, nil)
		if err != nil {
			t.Fatal(err)
		}
		return ps
	}
	expect := func(want ...string) {
		t.Helper()
		for _, w := range want {
			if l := next(w); l != w {
				t.Fatalf("device reported %s, want %s", l, w)
			}
		}
	}
	resp, err := iotcontrol.Set(ctx, cli, to, iotcontrol.SetRequest{Params: assign("Relay=true", "Level=2.5", "Color=3399FF:color")})
	if err != nil {
		t.Fatalf("set: %v", err)
	}
	if resp.ResponseCode != "OK" {
		t.Errorf("responseCode %q, want OK", resp.ResponseCode)
	}
	expect(`{"name": "Relay", "value": "true"}`, `{"name": "Level", "value": "2.5"}`, `{"name": "Color", "value": "3399FF"}`)

	// Refusals come as an error IQ holding a 2013 setResponse.
	_, err = iotcontrol.Set(ctx, cli, to, iotcontrol.SetRequest{Params: assign("Nope=1")})
	var e *iotcontrol.Error
	if !errors.As(err, &e) || e.ResponseCode != "NotFound" || e.Condition != "item-not-found" {
		t.Fatalf("unknown field: %v, want item-not-found from responseCode NotFound", err)
	}
	// A wrong type is "not found" for the 2013 draft too.
	_, err = iotcontrol.Set(ctx, cli, to, iotcontrol.SetRequest{Params: []iotcontrol.Param{{Type: control.TypeString, Name: "Count", Value: "3"}}})
	if !errors.As(err, &e) || e.Condition != "item-not-found" {
		t.Fatalf("wrong type: %v", err)
	}
	// Node addressing and the message form.
	if _, err := iotcontrol.Set(ctx, cli, to, iotcontrol.SetRequest{Nodes: []iotcontrol.NodeRef{{NodeID: "Device01"}}, Params: assign("Count=7")}); err != nil {
		t.Fatal(err)
	}
	expect(`{"name": "Count", "value": "7"}`)
	if err := iotcontrol.Send(ctx, cli, to, iotcontrol.SetRequest{Params: assign("Row1=hello world")}); err != nil {
		t.Fatal(err)
	}
	expect(`{"name": "Row1", "value": "hello world"}`)

	// The command line itself: xiot set, by IQ and by message.
	xiot := buildXiot(t)
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("operator-pass\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		acct := []string{"--jid", "operator@localhost", "--password-file", pw, "--server", p.C2SAddr, "--ca-file", p.CAFile}
		out, err := exec.CommandContext(ctx, xiot, append(append([]string{"set"}, acct...), args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("xiot set %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if out := run(to, "Relay=false", "Level=7.25"); !strings.Contains(out, "Relay=false (boolean), Level=7.25 (double)") {
		t.Errorf("xiot set printed %q", out)
	}
	expect(`{"name": "Relay", "value": "false"}`, `{"name": "Level", "value": "7.25"}`)
	run(to, "Count=9", "--message", "--node", "Device01")
	expect(`{"name": "Count", "value": "9"}`)
}

// buildXiot builds the xiot command into a temporary directory.
func buildXiot(t *testing.T) string {
	t.Helper()
	// go test puts its own toolchain first on the PATH of tests.
	out := filepath.Join(t.TempDir(), "xiot")
	if b, err := exec.Command("go", "build", "-o", out, "github.com/xiot/xiot/cmd/xiot").CombinedOutput(); err != nil {
		t.Fatalf("building xiot: %v\n%s", err, b)
	}
	return out
}
