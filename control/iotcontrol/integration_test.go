package iotcontrol_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"mellium.im/xmpp/jid"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/xiot/xiot/control"
	"github.com/xiot/xiot/control/iotcontrol"
	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/internal/xmpp"
)

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("XIOT_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return nil
}

func clientConfig(t testing.TB, p *testserver.Prosody, user, resource string) xmpp.Config {
	t.Helper()
	if err := p.Register(user, user+"-pass"); err != nil {
		t.Fatal(err)
	}
	j, err := jid.Parse(user + "@" + p.Domain + "/" + resource)
	if err != nil {
		t.Fatal(err)
	}
	return xmpp.Config{
		JID: j, Password: user + "-pass", Server: p.C2SAddr, TLS: p.TLSConfig(),
		ReconnectMin: 100 * time.Millisecond, ReconnectMax: 200 * time.Millisecond,
		Logger: testLogger(t),
	}
}

func connect(t testing.TB, cfg xmpp.Config, mux *xmpp.Mux) *xmpp.Session {
	t.Helper()
	s := xmpp.New(cfg, mux)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Connect(ctx); err != nil {
		t.Fatalf("connect %s: %v", cfg.JID, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustValue(t testing.TB, typ control.Type, s string) control.Value {
	t.Helper()
	v, err := control.Parse(typ, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// device is the controllable side of the tests: a relay on a gpiotest pin,
// one virtual parameter of every type with bounds, and a node with a
// setpoint and a mode.
type device struct {
	relay *gpiotest.Pin
	ctl   *control.Controller
	srv   *iotcontrol.Server
}

func newDevice(t testing.TB, dir string, auth iotcontrol.Authorizer) *device {
	t.Helper()
	d := &device{relay: &gpiotest.Pin{N: "GPIO17"}}
	r, err := control.NewRelay(d.relay, false)
	if err != nil {
		t.Fatal(err)
	}
	virt := func(node, name string, typ control.Type, initial string, min, max string, opts ...string) control.Point {
		p := control.Param{Node: node, Name: name, Type: typ}
		bt := typ
		if typ == control.TypeString {
			bt = control.TypeInt
		}
		if min != "" {
			p.Min = mustValue(t, bt, min)
		}
		if max != "" {
			p.Max = mustValue(t, bt, max)
		}
		for _, o := range opts {
			p.Options = append(p.Options, mustValue(t, typ, o))
		}
		return control.Point{Param: p, Output: control.NewVirtual(name, typ, nil), Initial: mustValue(t, typ, initial)}
	}
	points := []control.Point{
		{Param: control.Param{Name: "Heater", Type: control.TypeBoolean, Label: "Heater relay"}, Output: r, Safety: control.Safety{Failsafe: control.Bool(false), Grace: 300 * time.Millisecond}},
		virt("", "Color", control.TypeColor, "000000", "", ""),
		virt("", "TariffStartDate", control.TypeDate, "2013-05-01", "2000-01-01", "2099-12-31"),
		virt("", "AlarmAt", control.TypeDateTime, "2013-04-02T08:00:00Z", "", ""),
		virt("", "Level", control.TypeDouble, "0", "-10", "10"),
		virt("", "AlarmDuration", control.TypeDuration, "PT1M", "PT1S", "PT1H"),
		virt("", "OutputPercent", control.TypeInt, "100", "0", "100"),
		virt("", "Counter", control.TypeLong, "0", "0", "500000000000000"),
		virt("", "Row1", control.TypeString, "", "", "20"),
		virt("", "AlarmTime", control.TypeTime, "07:00:00", "05:00:00", "10:00:00"),
		virt("thermostat", "Setpoint", control.TypeDouble, "21", "5", "30"),
		virt("thermostat", "Mode", control.TypeString, "auto", "", "", "auto", "manual", "off"),
		virt("fan", "Mode", control.TypeString, "auto", "", "", "auto", "manual", "off"),
		{Param: control.Param{Name: "Compressor", Type: control.TypeBoolean}, Output: control.NewVirtual("Compressor", control.TypeBoolean, nil),
			Safety: control.Safety{Failsafe: control.Bool(false), Grace: time.Hour, MinOn: time.Hour, MinOff: time.Hour}},
	}
	ctl, err := control.New(points, control.Options{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ctl.Online() // as if connected; TestFailsafeWhenServerGoes wires the session's hooks
	ctx, cancel := context.WithCancel(context.Background())
	go ctl.Run(ctx)
	t.Cleanup(func() { cancel(); ctl.Shutdown() })
	d.ctl = ctl
	d.srv = iotcontrol.NewServer(ctl, iotcontrol.ServerOptions{Title: "Test device", CanControl: auth})
	return d
}

func (d *device) get(t *testing.T, node, name string) string {
	t.Helper()
	v, ok := d.ctl.Get(node, name)
	if !ok {
		t.Fatalf("no parameter %s", control.Key(node, name))
	}
	return v.String()
}

// waitFor polls cond until it holds or 5 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func faultOf(t *testing.T, err error) *iotcontrol.Error {
	t.Helper()
	var e *iotcontrol.Error
	if !errors.As(err, &e) {
		t.Fatalf("got %v, want an *iotcontrol.Error", err)
	}
	return e
}

func TestControlThroughProsody(t *testing.T) {
	p := testserver.StartProsody(t, testserver.ProsodyOptions{})
	var mu sync.Mutex
	var denied []string // parameters the auth hook refuses
	auth := func(ctx context.Context, from jid.JID, nodes, params []string) ([]string, error) {
		mu.Lock()
		defer mu.Unlock()
		if from.Localpart() == "intruder" {
			return nil, errors.New("not a friend")
		}
		if tok, _ := iotcontrol.TokensFrom(ctx); tok.User == "revoked" {
			return nil, errors.New("token revoked")
		}
		var ok []string
		for _, p := range params {
			if !slices.Contains(denied, p) {
				ok = append(ok, p)
			}
		}
		return ok, nil
	}
	dev := newDevice(t, t.TempDir(), auth)
	mux := &xmpp.Mux{}
	dev.srv.Register(mux)
	devSess := connect(t, clientConfig(t, p, "device", "agent"), mux)
	cli := connect(t, clientConfig(t, p, "operator", "cli"), nil)
	to := devSess.LocalJID().String()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	set := func(params ...iotcontrol.Param) (iotcontrol.SetResponse, error) {
		return iotcontrol.Set(ctx, cli, to, iotcontrol.SetRequest{Params: params})
	}
	param := func(typ control.Type, name, value string) iotcontrol.Param {
		return iotcontrol.Param{Type: typ, Name: name, Value: value}
	}

	t.Run("EveryTypeByIQ", func(t *testing.T) {
		tests := []struct {
			typ         control.Type
			name, value string
			want        string
		}{
			{control.TypeBoolean, "Heater", "true", "true"},
			{control.TypeColor, "Color", "3399ff", "3399FF"},
			{control.TypeDate, "TariffStartDate", "2013-05-01", "2013-05-01"},
			{control.TypeDateTime, "AlarmAt", "2013-04-02T08:00:00Z", "2013-04-02T08:00:00Z"},
			{control.TypeDouble, "Level", "8.192", "8.192"},
			{control.TypeDuration, "AlarmDuration", "PT3M30S", "PT3M30S"},
			{control.TypeInt, "OutputPercent", "50", "50"},
			{control.TypeLong, "Counter", "500000000000000", "500000000000000"},
			{control.TypeString, "Row1", "Temperature: 21.4 °C", "Temperature: 21.4 °C"},
			{control.TypeTime, "AlarmTime", "08:00:00", "08:00:00"},
		}
		for _, tt := range tests {
			resp, err := set(param(tt.typ, tt.name, tt.value))
			if err != nil {
				t.Errorf("set %s %s=%s: %v", tt.typ, tt.name, tt.value, err)
				continue
			}
			if len(resp.Params) != 0 || len(resp.Nodes) != 0 {
				t.Errorf("%s: setResponse lists %+v although nothing was restricted", tt.name, resp)
			}
			if got := dev.get(t, "", tt.name); got != tt.want {
				t.Errorf("%s = %q after set, want %q", tt.name, got, tt.want)
			}
		}
		if dev.relay.Read() != gpio.High {
			t.Error("relay pin not high after Heater=true")
		}
		// Read back through the control form: current values are listed.
		form, err := iotcontrol.FetchForm(ctx, cli, to)
		if err != nil {
			t.Fatal(err)
		}
		values := map[string]string{}
		for _, f := range form.Fields {
			if len(f.Values) > 0 {
				values[f.Var] = f.Values[0]
			}
		}
		for _, tt := range tests {
			if values[tt.name] != tt.want {
				t.Errorf("form value of %s = %q, want %q", tt.name, values[tt.name], tt.want)
			}
		}
	})

	t.Run("Message", func(t *testing.T) {
		err := iotcontrol.Send(ctx, cli, to, iotcontrol.SetRequest{Params: []iotcontrol.Param{param(control.TypeInt, "OutputPercent", "10")}})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "OutputPercent=10 by message", func() bool { return dev.get(t, "", "OutputPercent") == "10" })
		// A refused message changes nothing and answers nothing; the audit
		// log records it.
		err = iotcontrol.Send(ctx, cli, to, iotcontrol.SetRequest{Params: []iotcontrol.Param{param(control.TypeInt, "OutputPercent", "1000")}})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the refused message in the audit log", func() bool {
			for _, e := range dev.ctl.Audit().Recent() {
				if e.Via == "message" && e.Value == "1000" && !e.Accepted && strings.HasPrefix(e.From, "operator@localhost/cli") {
					return true
				}
			}
			return false
		})
		if got := dev.get(t, "", "OutputPercent"); got != "10" {
			t.Errorf("refused message changed OutputPercent to %s", got)
		}
	})

	t.Run("RefusedChangesNothing", func(t *testing.T) {
		before := dev.get(t, "", "OutputPercent")
		tests := []struct {
			params    []iotcontrol.Param
			typ, cond string
			paramErr  []iotcontrol.ParamError
		}{
			{[]iotcontrol.Param{param(control.TypeInt, "OutputPercent", "200")}, "modify", "bad-request",
				[]iotcontrol.ParamError{{Var: "OutputPercent", Text: "Invalid parameter value."}}},
			{[]iotcontrol.Param{param(control.TypeBoolean, "OutputPercent", "true")}, "modify", "bad-request",
				[]iotcontrol.ParamError{{Var: "OutputPercent", Text: "Invalid parameter type."}}},
			{[]iotcontrol.Param{param(control.TypeInt, "OutputPercent", "ten")}, "modify", "bad-request",
				[]iotcontrol.ParamError{{Var: "OutputPercent", Text: "Invalid parameter value."}}},
			{[]iotcontrol.Param{param(control.TypeInt, "OutputPercent", "20"), param(control.TypeInt, "Nonexistent", "1")}, "cancel", "item-not-found",
				[]iotcontrol.ParamError{{Var: "Nonexistent", Text: "Parameter not found."}}},
			{[]iotcontrol.Param{param(control.TypeInt, "OutputPercent", "20"), param(control.TypeTime, "AlarmTime", "23:00:00"), param(control.TypeColor, "Color", "red")}, "modify", "bad-request",
				[]iotcontrol.ParamError{{Var: "AlarmTime", Text: "Invalid parameter value."}, {Var: "Color", Text: "Invalid parameter value."}}},
		}
		for _, tt := range tests {
			_, err := set(tt.params...)
			e := faultOf(t, err)
			if e.Type != tt.typ || e.Condition != tt.cond || !slices.Equal(e.Params, tt.paramErr) {
				t.Errorf("%+v: got %s/%s %+v, want %s/%s %+v", tt.params, e.Type, e.Condition, e.Params, tt.typ, tt.cond, tt.paramErr)
			}
			if got := dev.get(t, "", "OutputPercent"); got != before {
				t.Fatalf("refused set changed OutputPercent from %s to %s", before, got)
			}
		}
	})

	t.Run("Nodes", func(t *testing.T) {
		_, err := iotcontrol.Set(ctx, cli, to, iotcontrol.SetRequest{
			Nodes:  []iotcontrol.NodeRef{{NodeID: "thermostat"}},
			Params: []iotcontrol.Param{param(control.TypeDouble, "Setpoint", "22.5"), param(control.TypeString, "Mode", "manual")},
		})
		if err != nil {
			t.Fatal(err)
		}
		if dev.get(t, "thermostat", "Setpoint") != "22.5" || dev.get(t, "thermostat", "Mode") != "manual" || dev.get(t, "fan", "Mode") != "auto" {
			t.Errorf("node set: setpoint %s, thermostat mode %s, fan mode %s", dev.get(t, "thermostat", "Setpoint"), dev.get(t, "thermostat", "Mode"), dev.get(t, "fan", "Mode"))
		}
		// Two nodes at once; a value valid on neither is refused for both.
		both := []iotcontrol.NodeRef{{NodeID: "thermostat"}, {NodeID: "fan"}}
		if _, err := iotcontrol.Set(ctx, cli, to, iotcontrol.SetRequest{Nodes: both, Params: []iotcontrol.Param{param(control.TypeString, "Mode", "off")}}); err != nil {
			t.Fatal(err)
		}
		if dev.get(t, "thermostat", "Mode") != "off" || dev.get(t, "fan", "Mode") != "off" {
			t.Error("multi-node set not applied to both nodes")
		}
		_, err = iotcontrol.Set(ctx, cli, to, iotcontrol.SetRequest{Nodes: both, Params: []iotcontrol.Param{param(control.TypeDouble, "Setpoint", "20")}})
		if e := faultOf(t, err); e.Condition != "item-not-found" {
			t.Errorf("parameter missing on one node: %v", e)
		}
		_, err = iotcontrol.Set(ctx, cli, to, iotcontrol.SetRequest{Nodes: []iotcontrol.NodeRef{{NodeID: "garage"}}, Params: []iotcontrol.Param{param(control.TypeString, "Mode", "off")}})
		if e := faultOf(t, err); e.Condition != "item-not-found" || e.Type != "cancel" {
			t.Errorf("unknown node: %v", e)
		}
		// The form of several nodes lists what they have in common.
		form, err := iotcontrol.FetchForm(ctx, cli, to, both...)
		if err != nil {
			t.Fatal(err)
		}
		var vars []string
		for _, f := range form.Fields {
			vars = append(vars, f.Var)
		}
		if !slices.Equal(vars, []string{"Mode", iotcontrol.OverrideParam}) || form.Title != "thermostat, fan" {
			t.Errorf("common form %q: %v", form.Title, vars)
		}
	})

	t.Run("Form", func(t *testing.T) {
		form, err := iotcontrol.FetchForm(ctx, cli, to)
		if err != nil {
			t.Fatal(err)
		}
		if form.Title != "Test device" || form.Session == "" {
			t.Errorf("title %q, session %q", form.Title, form.Session)
		}
		byVar := map[string]iotcontrol.Field{}
		for _, f := range form.Fields {
			byVar[f.Var] = f
			if !f.NotSame {
				t.Errorf("field %s lacks xdd:notSame", f.Var)
			}
			if f.Datatype == "" {
				t.Errorf("field %s lacks XEP-0122 validation", f.Var)
			}
		}
		want := map[string][4]string{ // type, datatype, min, max
			"Heater":        {"boolean", "xs:boolean", "", ""},
			"Color":         {"text-single", "xdc:ColorAlpha", "", ""},
			"OutputPercent": {"text-single", "xs:int", "0", "100"},
			"Level":         {"text-single", "xs:double", "-10", "10"},
			"AlarmTime":     {"text-single", "xs:time", "05:00:00", "10:00:00"},
			"Mode":          {"list-single", "xs:string", "", ""},
		}
		for v, w := range want {
			f := byVar[v]
			if f.Type != w[0] || f.Datatype != w[1] || f.Min != w[2] || f.Max != w[3] {
				t.Errorf("field %s: %s %s [%s, %s], want %v", v, f.Type, f.Datatype, f.Min, f.Max, w)
			}
		}
		if f := byVar["Mode"]; !slices.Equal(f.Options, []string{"auto", "manual", "off"}) {
			t.Errorf("Mode options %v", f.Options)
		}
		if f := byVar["Heater"]; f.Label != "Heater relay" {
			t.Errorf("Heater label %q", f.Label)
		}
		// A partial form sets only what it carries.
		color := dev.get(t, "", "Color")
		_, err = iotcontrol.Set(ctx, cli, to, iotcontrol.SetRequest{Form: []iotcontrol.FormValue{
			{Var: iotcontrol.SessionVar, Values: []string{form.Session}},
			{Var: "OutputPercent", Values: []string{"42"}},
			{Var: "Level", Values: []string{"-2.5"}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		if dev.get(t, "", "OutputPercent") != "42" || dev.get(t, "", "Level") != "-2.5" || dev.get(t, "", "Color") != color {
			t.Error("partial form not applied as sent")
		}
		// Validation errors are reported per field, and nothing is set.
		_, err = iotcontrol.Set(ctx, cli, to, iotcontrol.SetRequest{Form: []iotcontrol.FormValue{
			{Var: "OutputPercent", Values: []string{"200"}},
			{Var: "Level", Values: []string{"1"}},
			{Var: "AlarmTime", Values: []string{"noon"}},
		}})
		e := faultOf(t, err)
		wantErrs := []iotcontrol.ParamError{{Var: "OutputPercent", Text: "Invalid parameter value."}, {Var: "AlarmTime", Text: "Invalid parameter value."}}
		if e.Condition != "bad-request" || !slices.Equal(e.Params, wantErrs) {
			t.Errorf("form errors: %v, want %+v", e, wantErrs)
		}
		if dev.get(t, "", "Level") != "-2.5" {
			t.Error("refused form changed Level")
		}
		// The client side validates against the form's rules as well.
		if err := byVar["OutputPercent"].Validate("101"); !errors.Is(err, control.ErrOutOfRange) {
			t.Errorf("client-side validation of 101: %v", err)
		}
	})

	t.Run("InterlockUnderBurst", func(t *testing.T) {
		// The boot value counts as a switch: within the minimum off time
		// the compressor may not start, however often it is asked.
		for i := range 20 {
			_, err := set(param(control.TypeBoolean, "Compressor", strconv.FormatBool(i%2 == 0)))
			if i%2 == 1 {
				if err != nil {
					t.Fatalf("setting the current value: %v", err)
				}
				continue
			}
			e := faultOf(t, err)
			if e.Type != "wait" || e.Condition != "conflict" || !slices.Equal(e.Params, []iotcontrol.ParamError{{Var: "Compressor", Text: iotcontrol.TextLocked}}) {
				t.Fatalf("start %d within the minimum off time: %v", i, e)
			}
		}
		if got := dev.get(t, "", "Compressor"); got != "false" {
			t.Errorf("compressor %s after the burst", got)
		}
	})

	t.Run("TimedOverride", func(t *testing.T) {
		if _, err := set(param(control.TypeBoolean, "Heater", "false")); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if _, err := set(param(control.TypeBoolean, "Heater", "true"), param(control.TypeDuration, iotcontrol.OverrideParam, "PT0.5S")); err != nil {
			t.Fatal(err)
		}
		if dev.relay.Read() != gpio.High {
			t.Fatal("override not applied")
		}
		waitFor(t, "the override to revert", func() bool { return dev.relay.Read() == gpio.Low })
		if el := time.Since(start); el < 500*time.Millisecond {
			t.Errorf("reverted after %v, before the override's end", el)
		}
	})

	t.Run("CommandLine", func(t *testing.T) {
		xiot := buildXiot(t)
		pw := filepath.Join(t.TempDir(), "pw")
		if err := os.WriteFile(pw, []byte("operator-pass\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		run := func(args ...string) (string, error) {
			acct := []string{"--jid", "operator@localhost", "--password-file", pw, "--server", p.C2SAddr, "--ca-file", p.CAFile}
			out, err := exec.CommandContext(ctx, xiot, append(append([]string{args[0]}, acct...), args[1:]...)...).CombinedOutput()
			return string(out), err
		}
		out, err := run("form", to, "--json", "--node", "thermostat")
		if err != nil {
			t.Fatalf("xiot form: %v\n%s", err, out)
		}
		var form struct {
			Title      string
			Parameters []struct{ Name, Type, Min, Max, Value string }
		}
		if err := json.Unmarshal([]byte(out), &form); err != nil {
			t.Fatalf("xiot form --json: %v\n%s", err, out)
		}
		if form.Title != "thermostat" || len(form.Parameters) != 3 || form.Parameters[0].Name != "Setpoint" || form.Parameters[0].Max != "30" {
			t.Errorf("xiot form --json: %+v", form)
		}
		if out, err := run("set", to, "--node", "thermostat", "Setpoint=24.5"); err != nil || dev.get(t, "thermostat", "Setpoint") != "24.5" {
			t.Errorf("xiot set: %v\n%s", err, out)
		}
		// Refusals exit 1 with the reason: here the device's interlock.
		out, err = run("set", to, "Compressor=true")
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(out, "wait/conflict") || !strings.Contains(out, "Parameter locked.") {
			t.Errorf("refused xiot set: %v\n%s", err, out)
		}
	})

	t.Run("Authorisation", func(t *testing.T) {
		mu.Lock()
		denied = []string{"Level"}
		mu.Unlock()
		defer func() { mu.Lock(); denied = nil; mu.Unlock() }()
		resp, err := set(param(control.TypeInt, "OutputPercent", "7"), param(control.TypeDouble, "Level", "3"))
		if err != nil {
			t.Fatal(err)
		}
		form, err := iotcontrol.FetchForm(ctx, cli, to)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range form.Fields {
			if f.Var == "Level" {
				t.Error("the form lists a parameter the requester may not set")
			}
		}
		if !slices.Equal(resp.Params, []string{"OutputPercent"}) {
			t.Errorf("partial setResponse lists %v, want [OutputPercent]", resp.Params)
		}
		if dev.get(t, "", "OutputPercent") != "7" || dev.get(t, "", "Level") == "3" {
			t.Error("partial authorisation not honoured")
		}
		intruder := connect(t, clientConfig(t, p, "intruder", "x"), nil)
		_, err = iotcontrol.Set(ctx, intruder, to, iotcontrol.SetRequest{Params: []iotcontrol.Param{param(control.TypeInt, "OutputPercent", "8")}})
		if e := faultOf(t, err); e.Condition != "forbidden" || e.Type != "cancel" {
			t.Errorf("intruder: %v", e)
		}
		if _, err := iotcontrol.FetchForm(ctx, intruder, to); faultOf(t, err).Condition != "forbidden" {
			t.Errorf("intruder getForm: %v", err)
		}
		// The hook sees the request's XEP-0324 tokens.
		_, err = iotcontrol.Set(ctx, cli, to, iotcontrol.SetRequest{Tokens: iotcontrol.Tokens{User: "revoked"}, Params: []iotcontrol.Param{param(control.TypeInt, "OutputPercent", "9")}})
		if e := faultOf(t, err); e.Condition != "forbidden" {
			t.Errorf("revoked token: %v", e)
		}
		var sawDenied, sawIntruder bool
		for _, e := range dev.ctl.Audit().Recent() {
			sawDenied = sawDenied || (e.Name == "Level" && e.Value == "3" && !e.Accepted && strings.HasPrefix(e.From, "operator@localhost/"))
			sawIntruder = sawIntruder || (e.Value == "8" && !e.Accepted && strings.HasPrefix(e.From, "intruder@localhost/x") && strings.Contains(e.Reason, "not authorised"))
		}
		if !sawDenied || !sawIntruder {
			t.Errorf("audit log lacks the refusals (denied %v, intruder %v)", sawDenied, sawIntruder)
		}
	})
}

// TestFailsafeWhenServerGoes cuts the device off (the server stops) and
// checks that the relay drops after the grace period, wired the way the
// agent wires it: the session's OnOffline and OnOnline hooks.
func TestFailsafeWhenServerGoes(t *testing.T) {
	p := testserver.StartProsody(t, testserver.ProsodyOptions{})
	dev := newDevice(t, t.TempDir(), nil)
	mux := &xmpp.Mux{}
	dev.srv.Register(mux)
	cfg := clientConfig(t, p, "device", "agent")
	var mu sync.Mutex
	var offlineAt time.Time
	cfg.OnOffline = func(error) {
		mu.Lock()
		offlineAt = time.Now()
		mu.Unlock()
		dev.ctl.Offline()
	}
	cfg.OnOnline = func(context.Context, bool) { dev.ctl.Online() }
	devSess := connect(t, cfg, mux)
	cli := connect(t, clientConfig(t, p, "operator", "cli"), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := iotcontrol.Set(ctx, cli, devSess.LocalJID().String(), iotcontrol.SetRequest{Params: []iotcontrol.Param{{Type: control.TypeBoolean, Name: "Heater", Value: "true"}}})
	if err != nil {
		t.Fatal(err)
	}
	if dev.relay.Read() != gpio.High {
		t.Fatal("relay not on")
	}
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "failsafe after the grace period", func() bool { return dev.relay.Read() == gpio.Low })
	mu.Lock()
	el := time.Since(offlineAt)
	mu.Unlock()
	if el < 300*time.Millisecond {
		t.Errorf("failsafe after %v, before the 300ms grace", el)
	}
	var e control.Entry
	for _, x := range dev.ctl.Audit().Recent() {
		if x.Via == "failsafe" {
			e = x
		}
	}
	if e.Name != "Heater" || e.Value != "false" || !strings.Contains(e.Reason, "no connection") {
		t.Errorf("audit of the failsafe: %+v", e)
	}
}

// TestOverrideSurvivesRestart sets a timed override through Prosody,
// restarts the device (controller and session) from the same state
// directory, and checks that the override is back and then reverts on
// time.
func TestOverrideSurvivesRestart(t *testing.T) {
	p := testserver.StartProsody(t, testserver.ProsodyOptions{})
	dir := t.TempDir()
	cli := connect(t, clientConfig(t, p, "operator", "cli"), nil)
	devCfg := clientConfig(t, p, "device", "agent")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	dev := newDevice(t, dir, nil)
	mux := &xmpp.Mux{}
	dev.srv.Register(mux)
	sess := connect(t, devCfg, mux)
	start := time.Now()
	_, err := iotcontrol.Set(ctx, cli, sess.LocalJID().String(), iotcontrol.SetRequest{Params: []iotcontrol.Param{
		{Type: control.TypeBoolean, Name: "Heater", Value: "true"},
		{Type: control.TypeDuration, Name: iotcontrol.OverrideParam, Value: "PT2S"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	sess.Close()
	if err := dev.ctl.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if dev.relay.Read() != gpio.Low {
		t.Fatal("shutdown left the heater on")
	}

	// The agent restarts: same state directory, new controller and session.
	dev2 := newDevice(t, dir, nil)
	mux2 := &xmpp.Mux{}
	dev2.srv.Register(mux2)
	connect(t, devCfg, mux2)
	if time.Since(start) < 2*time.Second && dev2.relay.Read() != gpio.High {
		t.Fatal("override not restored after the restart")
	}
	waitFor(t, "the restored override to revert", func() bool { return dev2.relay.Read() == gpio.Low })
	if el := time.Since(start); el < 2*time.Second {
		t.Errorf("reverted after %v, before the override's 2 s", el)
	}
	var vias []string
	for _, e := range dev2.ctl.Audit().Recent() {
		vias = append(vias, e.Via)
	}
	if !slices.Contains(vias, "restore") || !slices.Contains(vias, "revert") {
		t.Errorf("audit after restart: %v", vias)
	}
}
