package agent_test

import (
	"context"
	"testing"
	"time"

	"github.com/xiot/xiot/agent"
	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/internal/xmpp"
)

// BenchmarkPing measures the XEP-0199 round trip from a client to the
// agent through Prosody (sub-benchmark "agent") and, for comparison, to
// Prosody itself ("server"). bench/agent.sh prints both side by side with
// percentiles.
func BenchmarkPing(b *testing.B) {
	p := testserver.StartProsody(b, testserver.ProsodyOptions{ExtraModules: []string{"smacks"}})
	devCfg := account(b, p, "device", "agent")
	cliCfg := account(b, p, "client", "c")
	a, err := agent.New(agent.Options{Session: devCfg})
	if err != nil {
		b.Fatal(err)
	}
	online := make(chan bool, 1)
	a.OnOnline(func(context.Context, bool) { online <- true })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go a.Run(ctx)
	select {
	case <-online:
	case <-time.After(20 * time.Second):
		b.Fatal("agent not online")
	}
	cli := xmpp.New(cliCfg, nil)
	if err := cli.Connect(ctx); err != nil {
		b.Fatal(err)
	}
	defer cli.Close()
	for _, target := range []struct{ name, jid string }{{"agent", "device@localhost/agent"}, {"server", "localhost"}} {
		b.Run(target.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := xmpp.Ping(ctx, cli, target.jid); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
