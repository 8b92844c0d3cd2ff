package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/boards/sim"
	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/sensors"
	"github.com/xiot/xiot/sensors/sensordata"
)

func TestReadArgs(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		args    []string
		wantErr string
		check   func(t *testing.T, rf *readFlags)
	}{
		{"jid first", []string{"dev@x/y", "--node", "a", "--node", "b", "--field", "T", "--types", "momentary,status"}, "", func(t *testing.T, rf *readFlags) {
			r := rf.request()
			if rf.jid[0] != "dev@x/y" || len(r.Nodes) != 2 || r.Nodes[1].NodeID != "b" || r.Fields[0] != "T" || r.Types != sensors.Momentary|sensors.Status {
				t.Errorf("%+v", r)
			}
		}},
		{"relative times", []string{"--types", "historical", "--from", "-24h", "--to", "now", "dev@x/y"}, "", func(t *testing.T, rf *readFlags) {
			r := rf.request()
			if !r.From.Equal(now.Add(-24*time.Hour)) || !r.To.Equal(now) || r.Types != sensors.Historical {
				t.Errorf("%+v", r)
			}
		}},
		{"absolute when", []string{"dev@x/y", "--when", "2026-11-24T11:00:00+01:00"}, "", func(t *testing.T, rf *readFlags) {
			if !rf.request().When.Equal(now) {
				t.Errorf("when %v", rf.request().When)
			}
		}},
		{"no jid", []string{"--node", "a"}, "exactly one device JID", nil},
		{"two jids", []string{"a@x/y", "b@x/y"}, "exactly one device JID", nil},
		{"bad types", []string{"a@x/y", "--types", "momentery"}, "unknown field type", nil},
		{"bad time", []string{"a@x/y", "--from", "yesterday"}, "--from", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			rf, _, err := parseReadArgs(tt.args, &out, &errb, now)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, rf)
		})
	}
}

// TestReadThroughProsody runs "xiot read" against a device serving the sim
// board through a real Prosody.
func TestReadThroughProsody(t *testing.T) {
	p := testserver.StartProsody(t, testserver.ProsodyOptions{})
	for _, u := range []string{"device", "reader"} {
		if err := p.Register(u, u+"-pass"); err != nil {
			t.Fatal(err)
		}
	}
	b := sim.New(nil)
	ss, err := b.Sensors()
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, s := range ss {
			s.Halt()
		}
	}()
	srv := sensordata.NewServer(ss, sensordata.Options{})
	defer srv.Close()
	mux := &xmpp.Mux{}
	srv.Register(mux)
	j, _ := jid.Parse("device@localhost/agent")
	dev := xmpp.New(xmpp.Config{JID: j, Password: "device-pass", Server: p.C2SAddr, TLS: p.TLSConfig()}, mux)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := dev.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer dev.Close()

	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("reader-pass\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	acct := []string{"--jid", "reader@localhost", "--password-file", pw, "--server", p.C2SAddr, "--ca-file", p.CAFile, "--timeout", "10s"}

	var out, errb bytes.Buffer
	err = runRead(ctx, append([]string{"device@localhost/agent", "--types", "momentary,status"}, acct...), &out, &errb)
	if err != nil {
		t.Fatalf("read: %v\n%s", err, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1+3+1+3+2 || !strings.HasPrefix(lines[0], "NODE") || !strings.Contains(out.String(), "°C") {
		t.Errorf("table:\n%s", out.String())
	}
	// Columns line up: every row has TIMESTAMP where the header has it.
	col := strings.Index(lines[0], "TIMESTAMP")
	for _, l := range lines[1:] {
		if r := []rune(l); len(r) < col || !strings.HasPrefix(string(r[col:]), "20") {
			t.Errorf("misaligned row %q", l)
		}
	}

	out.Reset()
	err = runRead(ctx, append([]string{"device@localhost/agent", "--json", "--node", sim.NodeBME280, "--field", "Temperature", "--field", "Humidity"}, acct...), &out, &errb)
	if err != nil {
		t.Fatalf("read --json: %v\n%s", err, errb.String())
	}
	var got []jsonField
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var f jsonField
		if err := json.Unmarshal([]byte(l), &f); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		got = append(got, f)
	}
	if len(got) != 2 || got[0].Field != "Temperature" || got[0].Unit != "°C" || got[0].Number == nil || got[1].Field != "Humidity" {
		t.Errorf("json: %s", out.String())
	}

	err = runRead(ctx, append([]string{"device@localhost/agent", "--node", "nope"}, acct...), &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "item-not-found") {
		t.Errorf("unknown node: %v", err)
	}
}

// TestReadSlixmppDevice runs "xiot read" against slixmpp's XEP-0323 device
// (the older draft the plugin speaks), started from the script of the
// sensordata interop tests.
func TestReadSlixmppDevice(t *testing.T) {
	py := testserver.SlixmppPython(t, "slixmpp.plugins.xep_0323")
	p := testserver.StartProsody(t, testserver.ProsodyOptions{})
	for _, u := range []string{"slixdev", "reader"} {
		if err := p.Register(u, u+"-pass"); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	host, port, _ := strings.Cut(p.C2SAddr, ":")
	cmd := exec.CommandContext(ctx, py, "../../sensors/sensordata/testdata/slixmpp_peer.py", "device", "slixdev@localhost/dev", "slixdev-pass", host, port, p.CAFile)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	if sc := bufio.NewScanner(stdout); !sc.Scan() || sc.Text() != "ready" {
		t.Fatalf("slixmpp device did not start:\n%s", stderr.String())
	}
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("reader-pass"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	err = runRead(ctx, []string{"slixdev@localhost/dev", "--jid", "reader@localhost", "--password-file", pw, "--server", p.C2SAddr, "--ca-file", p.CAFile, "--timeout", "20s"}, &out, &errb)
	if err != nil {
		t.Fatalf("read: %v\n%s\nslixmpp:\n%s", err, errb.String(), stderr.String())
	}
	for _, want := range []string{"Device01", "Temperature", "23.4", "°C", "Uptime", "PT1H2M3S", "Mode", "auto", "(urn:example:mode)", "2013-03-07T16:24:30Z"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
