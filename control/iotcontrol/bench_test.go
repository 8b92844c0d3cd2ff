package iotcontrol_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/xiot/xiot/control"
	"github.com/xiot/xiot/control/iotcontrol"
	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/internal/xmpp"
)

// BenchmarkSetVsPing measures, side by side in one run and through the
// same Prosody, the round trip of a XEP-0325 set in an IQ (validation,
// output write, audit, overrides file) against a XEP-0199 ping answered by
// the same device session.
func BenchmarkSetVsPing(b *testing.B) {
	p := testserver.StartProsody(b, testserver.ProsodyOptions{DisableNagle: true})
	dev := newDevice(b, b.TempDir(), nil)
	mux := &xmpp.Mux{}
	xmpp.HandlePing(mux)
	dev.srv.Register(mux)
	devSess := connect(b, clientConfig(b, p, "device", "agent"), mux)
	cli := connect(b, clientConfig(b, p, "operator", "cli"), nil)
	to := devSess.LocalJID().String()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	b.Run("ping", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := xmpp.Ping(ctx, cli, to); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("set", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			req := iotcontrol.SetRequest{Params: []iotcontrol.Param{{Type: control.TypeInt, Name: "OutputPercent", Value: strconv.Itoa(i % 100)}}}
			if _, err := iotcontrol.Set(ctx, cli, to, req); err != nil {
				b.Fatal(err)
			}
		}
	})
}
