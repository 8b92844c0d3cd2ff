//go:build !xiot_small

package main

import (
	"context"
	"errors"
	"io"
	"net"
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
)

func TestEXIGWUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--upstream", "x:5222", "extra"},
		{"--upstream", "x:5222", "--listen", "", "--alt-listen", ""},
		{"--upstream", "x:5222", "--cert", "a.pem"},
	} {
		err := runEXIGW(context.Background(), args, io.Discard, io.Discard)
		var ue *usageError
		if !errors.As(err, &ue) {
			t.Errorf("%q: got %v, want a usage error", args, err)
		}
	}
}

// xiot exigw in front of Prosody: a device on the alternative binding logs
// in through it and answers a ping from a plain client.
func TestEXIGWRelays(t *testing.T) {
	p := testserver.StartProsody(t, testserver.ProsodyOptions{})
	for _, u := range []string{"device", "client"} {
		if err := p.Register(u, u+"-pass"); err != nil {
			t.Fatal(err)
		}
	}
	neg, alt := testserver.FreeAddr(t), testserver.FreeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- runEXIGW(ctx, []string{"--upstream", p.C2SAddr, "--ca", p.CAFile,
			"--cert", filepath.Join(p.Dir, "certs", p.Domain+".crt"), "--key", filepath.Join(p.Dir, "certs", p.Domain+".key"),
			"--listen", neg, "--alt-listen", alt, "--stats", "50ms", "--metrics", "127.0.0.1:0"}, io.Discard, &stderr)
	}()
	for deadline := time.Now().Add(5 * time.Second); ; {
		c, err := net.Dial("tcp", alt)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway not listening: %v\n%s", err, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	session := func(user, server string, x xmpp.EXIConfig, mux *xmpp.Mux) *xmpp.Session {
		s := xmpp.New(xmpp.Config{JID: jid.MustParse(user + "@" + p.Domain + "/t"), Password: user + "-pass", Server: server,
			TLS: p.TLSConfig(), EXI: x, Keepalive: -1}, mux)
		lctx, lcancel := context.WithTimeout(ctx, 15*time.Second)
		defer lcancel()
		if err := s.Connect(lctx); err != nil {
			t.Fatalf("%s: %v\n%s", user, err, stderr.String())
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	mux := &xmpp.Mux{}
	xmpp.HandlePing(mux)
	dev := session("device", alt, xmpp.EXIConfig{Mode: xmpp.EXIAlternative, SchemaInformed: true}, mux)
	cli := session("client", p.C2SAddr, xmpp.EXIConfig{}, nil)
	pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
	defer pcancel()
	if _, err := xmpp.Ping(pctx, cli, dev.LocalJID().String()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(120 * time.Millisecond) // a round of counters
	if m := regexp.MustCompile(`url=(http://[^ ]+/metrics)`).FindStringSubmatch(stderr.String()); m == nil {
		t.Errorf("no metrics endpoint in the log:\n%s", stderr.String())
	} else if resp, err := http.Get(m[1]); err != nil {
		t.Error(err)
	} else {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), "xiot_exigw_exi_streams_total 1") ||
			!regexp.MustCompile(`xiot_exigw_bytes_total\{side="device",direction="in"\} [1-9]`).Match(body) {
			t.Errorf("gateway metrics:\n%s", body)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exigw ended with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("exigw did not stop")
	}
	if log := stderr.String(); !strings.Contains(log, "EXI gateway counters") || !strings.Contains(log, "exi_streams=1") {
		t.Fatalf("no counters in the log:\n%s", log)
	}
}

// The agent configured with exi: (negotiated, schema-informed, compressed)
// runs behind xiot exigw; a plain client reads it and sets a parameter
// through Prosody.
func TestAgentBehindEXIGW(t *testing.T) {
	p := testserver.StartProsody(t, testserver.ProsodyOptions{ExtraModules: []string{"smacks"}})
	dir := t.TempDir()
	pass := map[string]string{}
	for _, u := range []string{"device", "client"} {
		if err := p.Register(u, u+"-secret"); err != nil {
			t.Fatal(err)
		}
		pass[u] = filepath.Join(dir, u+".pass")
		if err := os.WriteFile(pass[u], []byte(u+"-secret\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	neg := testserver.FreeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var gwLog, agentOut, agentErr syncBuffer
	gwDone := make(chan error, 1)
	go func() {
		gwDone <- runEXIGW(ctx, []string{"--upstream", p.C2SAddr, "--ca", p.CAFile,
			"--cert", filepath.Join(p.Dir, "certs", p.Domain+".crt"), "--key", filepath.Join(p.Dir, "certs", p.Domain+".key"),
			"--listen", neg, "--alt-listen", ""}, io.Discard, &gwLog)
	}()
	cfg := filepath.Join(dir, "agent.yaml")
	yaml := "account:\n  jid: device@localhost/agent\n  password_file: " + pass["device"] + "\n  server: " + neg + "\n  ca_file: " + p.CAFile + "\n" +
		"board: sim\nstate_dir: " + filepath.Join(dir, "state") + "\n" +
		"exi:\n  mode: negotiate\n  schema_informed: true\n  alignment: compression\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	agentDone := make(chan int, 1)
	go func() { agentDone <- run(ctx, []string{"agent", "--config", cfg}, &agentOut, &agentErr) }()
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(agentErr.String(), "agent online"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("agent not online after 20 s:\n%s\ngateway:\n%s", agentErr.String(), gwLog.String())
		}
	}
	if !strings.Contains(agentErr.String(), "stream switched to EXI") {
		t.Fatalf("agent did not switch to EXI:\n%s", agentErr.String())
	}
	acct := []string{"--jid", "client@localhost", "--password-file", pass["client"], "--server", p.C2SAddr, "--ca-file", p.CAFile}
	code, out, errOut := runXiot(t, append(append([]string{"read", "--types", "momentary,status"}, acct...), "device@localhost/agent")...)
	if code != exitOK {
		t.Fatalf("read: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"Temperature", "°C", "Energy", "kWh", "Relay", "Setpoint"} {
		if !strings.Contains(out, want) {
			t.Errorf("read output lacks %q:\n%s", want, out)
		}
	}
	code, out, errOut = runXiot(t, append(append([]string{"set"}, acct...), "device@localhost/agent", "Setpoint=22.5", "--node", "thermostat")...)
	if code != exitOK {
		t.Fatalf("set: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runXiot(t, append(append([]string{"read", "--types", "status", "--node", "thermostat"}, acct...), "device@localhost/agent")...)
	if code != exitOK || !strings.Contains(out, "22.5") {
		t.Fatalf("read after set: exit %d\n%s\n%s", code, out, errOut)
	}
	cancel()
	for _, c := range []<-chan int{agentDone} {
		select {
		case <-c:
		case <-time.After(10 * time.Second):
			t.Fatal("agent did not stop")
		}
	}
	select {
	case <-gwDone:
	case <-time.After(10 * time.Second):
		t.Fatal("gateway did not stop")
	}
}
