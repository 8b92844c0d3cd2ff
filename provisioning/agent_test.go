package provisioning_test

import (
	"context"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/agent"
	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/provisioning"
)

// TestAgentFriendship runs the agent with the client as its friendship
// hook. The agent decides subscription requests on the reading goroutine,
// so the client asks over a session of its own: a requester the server
// befriends gets its subscription approved, a stranger is refused.
func TestAgentFriendship(t *testing.T) {
	t.Parallel()
	p := testserver.StartProsody(t, testserver.ProsodyOptions{})
	register(t, p, "device", "prov", "alice", "bob")
	prov := newProvPeer()
	prov.setRule("alice@localhost", rule{friend: true})
	pmux := &xmpp.Mux{}
	prov.register(pmux)
	prov.sess = connect(t, clientConfig(t, p, "prov", "prov"), pmux)

	qmux := &xmpp.Mux{}
	client := provisioning.New(connect(t, clientConfig(t, p, "device", "provisioning"), qmux),
		jid.MustParse("prov@localhost/prov"), provisioning.Options{Timeout: 2 * time.Second, Logger: testLogger(t)})
	client.Register(qmux)
	a, err := agent.New(agent.Options{Session: clientConfig(t, p, "device", "agent"), Friend: client.IsFriend, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	client.Register(a.Mux())
	online := make(chan struct{}, 1)
	a.OnOnline(func(context.Context, bool) { online <- struct{}{} })
	actx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go a.Run(actx)
	select {
	case <-online:
	case <-time.After(20 * time.Second):
		t.Fatal("agent not online")
	}

	ctx := ctxT(t)
	// subscription returns the requester's roster item for the device once
	// the agent has answered its request: "to" when approved, "none" when
	// refused.
	subscription := func(user string) string {
		t.Helper()
		s := connect(t, clientConfig(t, p, user, "c"), nil)
		if err := s.Send(ctx, xmpp.NewElement("", "presence", "to", "device@localhost", "type", "subscribe")); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(10 * time.Second); ; {
			ros, err := s.SendIQ(ctx, xmpp.NewElement("", "iq", "type", "get").Add(xmpp.NewElement(agent.NSRoster, "query")))
			if err != nil {
				t.Fatal(err)
			}
			item := ros.Child(agent.NSRoster, "query").Child(agent.NSRoster, "item")
			if item != nil && item.Get("ask") == "" {
				return item.Get("subscription")
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s's request still pending: %v", user, ros)
			}
			time.Sleep(20 * time.Millisecond) // until the agent has answered
		}
	}
	if got := subscription("alice"); got != "to" {
		t.Fatalf("alice's subscription %q, want to (approved)", got)
	}
	if got := subscription("bob"); got != "none" {
		t.Fatalf("bob's subscription %q, want none (refused)", got)
	}
	if n := prov.count("isFriend"); n != 2 {
		t.Fatalf("server asked %d isFriend questions, want 2", n)
	}
}
