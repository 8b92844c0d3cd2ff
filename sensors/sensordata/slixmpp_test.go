package sensordata

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/sensors"
)

type slixEvent struct {
	Req    int    `json:"req"`
	Result string `json:"result"`
	NodeID string `json:"nodeId"`
	Error  string `json:"error"`
	Fields []struct {
		Name     string            `json:"name"`
		Typename string            `json:"typename"`
		Value    string            `json:"value"`
		Unit     string            `json:"unit"`
		DataType string            `json:"dataType"`
		Flags    map[string]string `json:"flags"`
	} `json:"fields"`
}

// TestSlixmppReadsOurDevice has slixmpp's XEP-0323 client read our Server.
func TestSlixmppReadsOurDevice(t *testing.T) {
	py := testserver.SlixmppPython(t, "slixmpp.plugins.xep_0323")
	r := newRig(t, Options{})
	if err := r.p.Register("slix", "slix-pass"); err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(r.p.C2SAddr, ":")
	reqs := `[
	  {"nodes": ["kinds"], "flags": {"all": "true"}},
	  {"nodes": ["bme280", "meter"], "flags": {"momentary": "true"}},
	  {"nodes": ["nope"], "flags": {"momentary": "true"}},
	  {"nodes": ["ds18b20", "broken"], "flags": {"momentary": "true"}}
	]`
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "testdata/slixmpp_peer.py", "client", "slix@localhost/py", "slix-pass", host, port, r.p.CAFile, r.to)
	cmd.Stdin = strings.NewReader(reqs)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("slixmpp client: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.String())
	}
	byReq := map[int][]slixEvent{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var e slixEvent
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		byReq[e.Req] = append(byReq[e.Req], e)
	}
	results := func(i int) string {
		var s []string
		for _, e := range byReq[i] {
			s = append(s, e.Result)
		}
		return strings.Join(s, ",")
	}

	// 1: every kind, in the types the draft knows.
	if got := results(0); got != "accepted,fields,done" {
		t.Errorf("request 0: %s", got)
	}
	types := map[string]string{}
	for _, e := range byReq[0] {
		for _, f := range e.Fields {
			types[f.Name] = f.Typename + "=" + f.Value + f.Unit + f.DataType
		}
	}
	for name, want := range map[string]string{
		"Temperature": "numeric=21.50°C", "Uptime": "timeSpan=P1DT2H1M30S", "Mode": "enum=Heatingurn:example:mode",
		"Count": "numeric=-42", "Installed": "dateTime=2020-05-17T00:00:00Z", "Alarm time": "string=06:30:00", "On": "boolean=true",
	} {
		if types[name] != want {
			t.Errorf("slixmpp read %s as %q, want %q", name, types[name], want)
		}
	}
	if len(types) != len(allKinds("", t0)) {
		t.Errorf("slixmpp got %d fields: %v", len(types), types)
	}
	// 2: two sim nodes, fields of each.
	nodes := map[string]int{}
	for _, e := range byReq[1] {
		nodes[e.NodeID] += len(e.Fields)
	}
	if results(1) != "accepted,fields,fields,done" || nodes["bme280"] != 3 || nodes["meter"] != 3 {
		t.Errorf("request 1: %s %v", results(1), nodes)
	}
	// 3: refused, understood as rejected.
	if ev := byReq[2]; len(ev) != 1 || ev[0].Result != "rejected" || !strings.Contains(ev[0].Error, "nope") {
		t.Errorf("request 2: %+v", ev)
	}
	// 4: fields of the good node, then the failure of the broken one.
	if ev := byReq[3]; results(3) != "accepted,fields,failure" || ev[2].NodeID != "broken" || !strings.Contains(ev[2].Error, "no ACK") {
		t.Errorf("request 3: %+v", ev)
	}
}

// TestWeReadSlixmppDevice has our Client read slixmpp's XEP-0323 device.
func TestWeReadSlixmppDevice(t *testing.T) {
	py := testserver.SlixmppPython(t, "slixmpp.plugins.xep_0323")
	r := newRig(t, Options{})
	if err := r.p.Register("slixdev", "slixdev-pass"); err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(r.p.C2SAddr, ":")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "testdata/slixmpp_peer.py", "device", "slixdev@localhost/dev", "slixdev-pass", host, port, r.p.CAFile)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
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
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		ready <- sc.Scan() && sc.Text() == "ready"
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("slixmpp device did not start:\n%s", stderr.String())
		}
	case <-ctx.Done():
		t.Fatalf("slixmpp device did not start:\n%s", stderr.String())
	}
	dev := "slixdev@localhost/dev"

	res, err := r.client.Read(ctx, r.cli, dev, Request{Types: sensors.Momentary})
	if err != nil || res.Err() != nil {
		t.Fatalf("read: %v %v", err, res.Err())
	}
	ts := time.Date(2013, 3, 7, 16, 24, 30, 0, time.UTC)
	want := []sensors.Field{
		{Name: "Temperature", Value: sensors.Numeric(23.4), Unit: "°C", Decimals: 1, QoS: sensors.QoSAutomaticReadout},
		{Name: "Open", Value: sensors.Boolean(true)},
		{Name: "Status", Value: sensors.String("all well")},
		{Name: "Serviced", Value: sensors.DateTime(time.Date(2013, 1, 2, 3, 4, 5, 0, time.UTC))},
		{Name: "Uptime", Value: sensors.Duration(time.Hour + 2*time.Minute + 3*time.Second)},
		{Name: "Mode", Value: sensors.Enum("auto", "urn:example:mode")},
	}
	for i := range want {
		want[i].Node, want[i].Timestamp, want[i].Types = "Device01", ts, sensors.Momentary
	}
	sameFields(t, res.Fields, want)

	res, err = r.client.Read(ctx, r.cli, dev, Request{Types: sensors.HistoricalHour, Fields: []string{"Temperature"}})
	if err != nil || len(res.Fields) != 3 || res.Fields[2].Types != sensors.HistoricalHour || !res.Fields[2].Timestamp.Equal(time.Date(2013, 3, 7, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("historical: %v %v", err, res.Fields)
	}

	_, err = r.client.Read(ctx, r.cli, dev, Request{Types: sensors.Momentary, Nodes: []NodeRef{{NodeID: "nope"}}})
	var rej Rejected
	if !errors.As(err, &rej) || !strings.Contains(rej.Text, "nope") {
		t.Errorf("unknown node: %v", err)
	}
	var se *xmpp.StanzaError
	if errors.As(err, &se) {
		t.Errorf("slixmpp sent an RFC 6120 condition after all: %v", se)
	}
}
