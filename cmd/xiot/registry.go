//go:build !xiot_small

package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/xiot/xiot/internal/config"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/provisioning/registry"
	"github.com/xiot/xiot/provisioning/registry/boltstore"
)

const registryUsage = `Usage: xiot registry --config FILE [flags]

Runs the thing registry (XEP-0347) and provisioning server (XEP-0324) as
a XEP-0114 component of the XMPP server (the component: section: domain,
server, secret_file). Things register their meta tags and a secret KEY;
their owners claim them by presenting the same tags (the claim URI or QR
code the agent prints), and search finds public claimed things. Claimed
things delegate their trust to the registry: the owner is always a
friend, others are allowed or denied by the owner's rules ("xiot rules"),
and questions no rule answers are refused and sent to the owner.

Everything is kept in the registry: section's store (default
state_dir/registry.db) and survives restarts. SIGINT or SIGTERM stops it.

Examples:
  xiot registry --config /etc/xiot/registry.yaml
  xiot registry --config registry.yaml --check-config
`

// runRegistry implements "xiot registry".
func runRegistry(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("registry", registryUsage)
	file := fs.String("config", "", "configuration `file` (YAML) with the component: section (required) and registry: section")
	stateDir := fs.String("state-dir", "", "`directory` of the default store (overrides state_dir)")
	verbose := fs.Bool("verbose", false, "log debug events to stderr")
	check := fs.Bool("check-config", false, "check the configuration (file, flags, secret file) and exit")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef(fs, "unexpected argument %q", fs.Arg(0))
	}
	if *file == "" {
		return usagef(fs, "--config is required")
	}
	cfg, err := config.Load(*file)
	if err != nil {
		return err
	}
	if err := cfg.ApplyFlags(config.Overrides{StateDir: *stateDir}); err != nil {
		return err
	}
	if !cfg.Component.Enabled() {
		return fmt.Errorf("%s: the component section is empty: the registry runs as a XEP-0114 component (component.domain, component.server, component.secret_file)", *file)
	}
	if err := cfg.Preflight(); err != nil {
		return err
	}
	if *check {
		_, err := fmt.Fprintln(stdout, "configuration ok")
		return err
	}

	log := cfg.Log.NewLogger(stderr)
	if *verbose {
		log = config.Log{Level: "debug", Format: cfg.Log.Format}.NewLogger(stderr)
	}
	xc, err := cfg.XMPPComponent(log)
	if err != nil {
		return err
	}
	store, err := boltstore.Open(cfg.RegistryStore(), 0)
	if err != nil {
		return err
	}
	defer func() {
		if err := store.Close(); err != nil {
			log.Error("closing the registry store", "err", err)
		}
	}()
	mux := &xmpp.Mux{}
	sess := xmpp.New(xc, mux)
	r := cfg.Registry
	srv, err := registry.New(sess, registry.Options{
		Store: store, Logger: log, MaxResults: r.MaxResults, ClaimBurst: r.ClaimBurst,
		ClaimEvery: r.ClaimInterval, NotifyTimeout: r.NotifyTimeout,
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	srv.Register(mux)
	xmpp.HandlePing(mux)
	log.Info("xiot registry starting", "domain", xc.JID.String(), "xmpp", xc.Server, "store", cfg.RegistryStore())
	go func() {
		select {
		case <-sess.Online():
			log.Info("XMPP component online", "domain", xc.JID.String())
		case <-ctx.Done():
		}
	}()
	// The reading loop does not watch ctx: closing the session ends Run.
	stopped := make(chan struct{})
	defer close(stopped)
	go func() {
		select {
		case <-ctx.Done():
			sess.Close()
		case <-stopped:
		}
	}()
	err = sess.Run(ctx)
	if errors.Is(err, context.Canceled) || ctx.Err() != nil {
		log.Info("xiot registry stopped")
		return nil
	}
	return fmt.Errorf("registry: XMPP component %s: %w", xc.JID, err)
}
