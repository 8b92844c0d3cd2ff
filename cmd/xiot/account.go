package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/xiot/xiot/internal/config"
	"github.com/xiot/xiot/internal/xmpp"
)

// accountFlags are the flags shared by every command that logs in to an
// XMPP server: a configuration file and the account overrides.
type accountFlags struct {
	config  string
	verbose bool
	timeout time.Duration
	o       config.Overrides
}

// register defines --config, --verbose, --timeout and the account
// overrides on fs.
func (a *accountFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&a.config, "config", "", "configuration `file` (YAML); flags override its values")
	fs.BoolVar(&a.verbose, "verbose", false, "log connection events to stderr")
	fs.DurationVar(&a.timeout, "timeout", 30*time.Second, "give up after this long")
	a.o.Register(fs)
}

// load reads the configuration file (or the defaults) and applies the
// flags, then checks that the account can be used.
func (a *accountFlags) load() (*config.Config, error) {
	cfg := config.Default()
	if a.config != "" {
		var err error
		if cfg, err = config.Load(a.config); err != nil {
			return nil, err
		}
	}
	if err := cfg.ApplyFlags(a.o); err != nil {
		return nil, err
	}
	if err := cfg.Preflight(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// logger returns the logger of a client command: warnings only, or
// everything with --verbose.
func (a *accountFlags) logger(stderr io.Writer) *slog.Logger {
	level := slog.LevelWarn
	if a.verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
}

// connect logs in as the configured account with a fresh resource, for a
// one-shot client command. The session neither reconnects nor keeps the
// stream for resumption; the caller closes it.
func (a *accountFlags) connect(ctx context.Context, stderr io.Writer, mux *xmpp.Mux) (*xmpp.Session, error) {
	cfg, err := a.load()
	if err != nil {
		return nil, err
	}
	xc, err := cfg.XMPPClient(clientResource(), a.logger(stderr))
	if err != nil {
		return nil, err
	}
	xc.StreamManagement = false
	xc.Keepalive = -1
	if mux == nil {
		mux = &xmpp.Mux{}
	}
	xmpp.HandlePing(mux)
	s := xmpp.New(xc, mux)
	if err := s.Connect(ctx); err != nil {
		return nil, fmt.Errorf("log in as %s: %w", xc.JID, err)
	}
	return s, nil
}

// clientResource returns a resource that does not replace the device's own
// session when a command logs in with the device's account.
func clientResource() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "xiot-cli-" + hex.EncodeToString(b[:])
}
