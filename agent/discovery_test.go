package agent_test

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/agent"
	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/provisioning/registry"
	"github.com/xiot/xiot/provisioning/registry/boltstore"
)

// TestAgentRegistersAndIsClaimed: the agent registers with our thing
// registry (a real XEP-0114 component on Prosody), the owner claims it with
// the claim text the agent printed, the agent learns its owner, and after a
// restart it does not register again.
func TestAgentRegistersAndIsClaimed(t *testing.T) {
	p := testserver.StartProsody(t, testserver.ProsodyOptions{})
	dir := t.TempDir()

	// The registry component.
	st, err := boltstore.Open(filepath.Join(dir, "registry.db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	regMux := &xmpp.Mux{}
	regSess := xmpp.New(xmpp.Config{JID: jid.MustParse(p.ComponentDomain), Password: p.ComponentSecret, Component: true,
		Server: p.ComponentAddr, NoTLS: true, Logger: testLogger(t)}, regMux)
	srv, err := registry.New(regSess, registry.Options{Store: st, Logger: testLogger(t), NotifyTimeout: 5 * time.Second, ClaimBurst: 5, ClaimEvery: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	srv.Register(regMux)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := regSess.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer regSess.Close()

	devCfg := account(t, p, "device", "agent")
	ownerCfg := account(t, p, "owner", "phone")
	tags, err := agent.ParseTags(map[string]string{"SN": "42-1", "MAN": "example.org", "MODEL": "sim", "V": "#1.5"})
	if err != nil {
		t.Fatal(err)
	}
	claimed := make(chan jid.JID, 2)
	start := func(cfg xmpp.Config) (*agent.Agent, *agent.Registration, context.CancelFunc, chan bool) {
		a, err := agent.New(agent.Options{Session: cfg, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		r, err := a.RegisterWithRegistry(agent.RegistrationOptions{
			Registry: jid.MustParse(p.ComponentDomain), Tags: tags, StateFile: filepath.Join(dir, "registration.json"),
			OnClaimed: func(_ context.Context, owner jid.JID) { claimed <- owner }, Print: io.Discard,
		})
		if err != nil {
			t.Fatal(err)
		}
		online := make(chan bool, 4)
		a.OnOnline(func(context.Context, bool) { online <- true })
		actx, acancel := context.WithCancel(ctx)
		go a.Run(actx)
		select {
		case <-online:
		case <-ctx.Done():
			t.Fatal("agent not online")
		}
		return a, r, acancel, online
	}
	_, reg, stop, _ := start(devCfg)
	text := reg.ClaimText()
	if !strings.HasPrefix(text, "IoTDisco;") || !strings.Contains(text, "KEY:") || !strings.Contains(text, "#V:1.5") {
		t.Fatalf("claim text %q", text)
	}

	// The owner claims with the tags of the claim text (as xiot claim does).
	owner := connect(t, ownerCfg, nil)
	ctags, err := registry.ParseClaimURI(text)
	if err != nil {
		t.Fatal(err)
	}
	mine := xmpp.NewElement(agent.NSDiscovery, "mine")
	for _, tg := range ctags {
		if tg.Numeric {
			mine.Add(xmpp.NewElement(agent.NSDiscovery, "num", "name", tg.Name, "value", "1.5"))
		} else {
			mine.Add(xmpp.NewElement(agent.NSDiscovery, "str", "name", tg.Name, "value", tg.Value))
		}
	}
	// The registration may still be on its way: retry the claim briefly.
	for {
		_, err := owner.SendIQ(ctx, xmpp.NewElement("", "iq", "type", "set", "to", p.ComponentDomain).Add(mine))
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("claim: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	select {
	case o := <-claimed:
		if o.String() != "owner@localhost" {
			t.Errorf("claimed by %s", o)
		}
	case <-ctx.Done():
		t.Fatal("the agent was not told it was claimed")
	}
	if o, ok := reg.Owner(); !ok || o.String() != "owner@localhost" {
		t.Errorf("Owner() = %v, %v", o, ok)
	}
	stop()

	// Restarted, the agent remembers its owner.
	_, reg2, stop2, _ := start(devCfg)
	defer stop2()
	if o, ok := reg2.Owner(); !ok || o.String() != "owner@localhost" || reg2.ClaimText() != text {
		t.Errorf("after a restart: owner %v %v, claim text %q", o, ok, reg2.ClaimText())
	}
}
