package iotcontrol_test

import (
	"context"
	"log/slog"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/boards/sim"
	"github.com/xiot/xiot/control"
	"github.com/xiot/xiot/control/iotcontrol"
	"github.com/xiot/xiot/internal/config"
	"github.com/xiot/xiot/internal/xmpp"
)

// How an agent wires control: the Controller from the configuration, its
// XEP-0325 server on the session's mux, the session's hooks for failsafe,
// and Shutdown on exit.
func Example_agent() {
	ctx := context.Background()
	cfg := config.Default()
	board := sim.New(nil)
	outs, hooks := control.SimConfig(board) // or cfg.Outputs with the board's pins
	cfg.Outputs = append(cfg.Outputs, outs...)
	pins := control.NewExpanders(board.I2CBus(), board.Pin).Pins()
	ctl, err := control.FromConfig(cfg, pins, hooks, slog.Default())
	if err != nil {
		return
	}
	defer ctl.Shutdown()
	go ctl.Run(ctx)

	srv := iotcontrol.NewServer(ctl, iotcontrol.ServerOptions{
		Title: "xiot",
		CanControl: func(ctx context.Context, from jid.JID, nodes, params []string) ([]string, error) {
			return params, nil // provisioning (XEP-0324) decides here
		},
	})
	mux := &xmpp.Mux{}
	srv.Register(mux)
	_ = srv.Features() // announce in disco
	session := xmpp.New(xmpp.Config{
		OnOnline:  func(context.Context, bool) { ctl.Online() },
		OnOffline: func(error) { ctl.Offline() },
	}, mux)
	_ = session
	_ = ctl.Sensors() // writable fields for XEP-0323 readouts
}
